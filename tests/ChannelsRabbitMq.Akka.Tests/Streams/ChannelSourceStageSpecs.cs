using Akka.Streams;
using Akka.Streams.TestKit;
using ChannelsRabbitMq.Akka.Streams;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Streams;

/// <summary>
/// The source stage's hand-over when the stream stops, driven by a layer whose receive
/// completes with a message in the very instant it is cancelled (what the real layer does when
/// a message is handed over as the cancellation comes).
/// </summary>
public sealed class ChannelSourceStageSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    [Fact]
    public async Task A_message_handed_over_as_the_stream_stops_goes_back_to_its_channel()
    {
        var layer = new HandsOverOnCancelLayer();
        var probe = ChannelLayerSource.Create(layer, "q!c").RunWith(this.SinkProbe<IReadOnlyDictionary<string, object?>>(), Sys.Materializer());
        probe.EnsureSubscription();
        probe.Request(1);
        await layer.Waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));

        probe.Cancel();

        var (channel, message) = await layer.Returned.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("q!c", channel);
        Assert.Equal("caught", message["type"]);
    }

    private sealed class HandsOverOnCancelLayer : IChannelLayer, IReturnsUnreceived
    {
        public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<(string, IReadOnlyDictionary<string, object?>)> Returned { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyCollection<string> Extensions => ["groups"];

        public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default)
        {
            var receive = new TaskCompletionSource<IReadOnlyDictionary<string, object?>>();
            cancellationToken.Register(() => receive.TrySetResult(new Dictionary<string, object?> { ["type"] = "caught" }));
            Waiting.TrySetResult();
            return receive.Task;
        }

        public void ReturnUnreceived(string channel, IReadOnlyDictionary<string, object?> message) => Returned.TrySetResult((channel, message));

        public Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default) => Task.FromResult("q!" + prefix);
        public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) =>
            Task.CompletedTask;
        public Task CloseAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
