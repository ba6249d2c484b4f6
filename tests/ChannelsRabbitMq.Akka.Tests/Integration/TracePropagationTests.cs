using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// A send carries its W3C trace context in the AMQP headers, and the receiving layer — another
/// connection, as another process would be — continues the trace.
/// </summary>
[Collection(nameof(TracePropagationTests))] // the activity listener is process-wide
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class TracePropagationTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly ActorSystem _system = ActorSystem.Create("traces");
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracePropagationTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ChannelLayerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        await _system.Terminate();
    }

    private RabbitMqChannelLayer Layer() => new(_system, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });

    [Fact]
    public async Task A_receive_on_another_layer_continues_the_trace_of_the_send()
    {
        await using var sender = Layer();
        await using var receiver = Layer();
        var channel = await receiver.NewChannelAsync();
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout); // its queue exists: a message sent earlier would be dropped

        await sender.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);
        await receiver.ReceiveAsync(channel).WaitAsync(Timeout);

        var send = Assert.Single(_stopped, a => a.Kind == ActivityKind.Producer && a.GetTagItem("messaging.destination.name") as string == channel);
        var receive = Assert.Single(_stopped, a => a.Kind == ActivityKind.Consumer && a.GetTagItem("messaging.destination.name") as string == channel);
        Assert.Equal(send.TraceId, receive.TraceId);
        Assert.Equal(send.SpanId, receive.ParentSpanId);
    }

    [Fact]
    public async Task A_send_inside_an_ambient_activity_joins_its_trace_and_leaves_it_current()
    {
        await using var layer = Layer();
        var channel = await layer.NewChannelAsync();
        using var ambient = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start();

        await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);

        Assert.Same(ambient, Activity.Current);
        var send = Assert.Single(_stopped, a => a.Kind == ActivityKind.Producer && a.GetTagItem("messaging.destination.name") as string == channel);
        Assert.Equal(ambient.TraceId, send.TraceId);
        Assert.Equal(ambient.SpanId, send.ParentSpanId);
    }

    [Fact]
    public async Task A_subscriber_gets_the_trace_context_to_continue_from()
    {
        await using var sender = Layer();
        await using var receiver = Layer();
        var channel = await receiver.NewChannelAsync();
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout); // its queue exists: a message sent earlier would be dropped
        var inbox = Inbox.Create(_system);
        await receiver.SubscribeAsync(channel, inbox.Receiver);

        await sender.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);
        var received = (ChannelLayerProtocol.Received)await inbox.ReceiveAsync(Timeout);

        var send = Assert.Single(_stopped, a => a.Kind == ActivityKind.Producer && a.GetTagItem("messaging.destination.name") as string == channel);
        Assert.Equal(send.TraceId, received.TraceContext.TraceId);
    }
}
