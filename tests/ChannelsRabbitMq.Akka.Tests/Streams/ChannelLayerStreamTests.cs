using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using ChannelsRabbitMq.Akka.Streams;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Streams;

/// <summary>
/// The Akka.Streams stages (<see cref="ChannelLayerSource"/>, <see cref="ChannelLayerSink"/>) on
/// a layer: demand-driven receiving, nothing lost when a stream stops, sends in the stream's
/// order. Run against the real broker and the in-memory one.
/// </summary>
public abstract class ChannelLayerStreamTests(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output), IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly List<IChannelLayer> _layers = [];

    private sealed record Note(string Text);

    protected abstract IChannelLayer CreateLayer();

    private IChannelLayer Layer()
    {
        var layer = CreateLayer();
        _layers.Add(layer);
        return layer;
    }

    private IMaterializer Materializer => Sys.Materializer();

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var layer in _layers) await layer.CloseAsync().WaitAsync(Timeout);
    }

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    private static string TypeOf(IReadOnlyDictionary<string, object?> message) => Assert.IsType<string>(message["type"]);

    private static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        TypeOf(await layer.ReceiveAsync(channel).WaitAsync(Timeout));

    [Fact]
    public async Task The_source_emits_a_channels_messages_in_order()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        for (var i = 0; i < 3; i++) await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);

        var probe = ChannelLayerSource.Create(layer, channel).RunWith(this.SinkProbe<IReadOnlyDictionary<string, object?>>(), Materializer);
        probe.Request(3);

        Assert.Equal(["m0", "m1", "m2"], new[] { probe.ExpectNext(Timeout), probe.ExpectNext(Timeout), probe.ExpectNext(Timeout) }.Select(TypeOf));
        probe.Cancel();
    }

    [Fact]
    public async Task Without_demand_the_source_takes_nothing_from_the_channel()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("m0")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("m1")).WaitAsync(Timeout);

        var probe = ChannelLayerSource.Create(layer, channel).RunWith(this.SinkProbe<IReadOnlyDictionary<string, object?>>(), Materializer);
        probe.Request(1);
        Assert.Equal("m0", TypeOf(probe.ExpectNext(Timeout)));
        probe.Cancel();

        Assert.Equal("m1", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_source_cancelled_while_it_waits_takes_nothing()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var probe = ChannelLayerSource.Create(layer, channel).RunWith(this.SinkProbe<IReadOnlyDictionary<string, object?>>(), Materializer);
        probe.EnsureSubscription();
        probe.Request(1); // a receive waits
        probe.Cancel();

        await layer.SendAsync(channel, Msg("next")).WaitAsync(Timeout);

        Assert.Equal("next", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task The_source_completes_when_the_layer_closes()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("ready")).WaitAsync(Timeout); // connected
        var probe = ChannelLayerSource.Create(layer, channel).RunWith(this.SinkProbe<IReadOnlyDictionary<string, object?>>(), Materializer);
        probe.Request(2);
        Assert.Equal("ready", TypeOf(probe.ExpectNext(Timeout)));

        await layer.CloseAsync().WaitAsync(Timeout);

        probe.ExpectComplete();
    }

    [Fact]
    public async Task The_channel_sink_sends_in_the_streams_order_with_several_sends_in_flight()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        await Source.From(Enumerable.Range(0, 30)).Select(i => (IReadOnlyDictionary<string, object?>)Msg($"m{i:00}"))
            .RunWith(ChannelLayerSink.ToChannel(layer, channel, parallelism: 8), Materializer).WaitAsync(Timeout);

        var received = new List<string>();
        for (var i = 0; i < 30; i++) received.Add(await ReceiveTypeAsync(layer, channel));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"m{i:00}"), received);
    }

    [Fact]
    public async Task The_group_sink_reaches_every_member_and_typed_stages_map_records()
    {
        var layer = Layer();
        var first = await layer.NewChannelAsync();
        var second = await layer.NewChannelAsync();
        var group = "streams-" + Guid.NewGuid().ToString("N")[..12];
        await layer.GroupAddAsync(group, first).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, second).WaitAsync(Timeout);

        await Source.From(["a", "b"]).Select(text => new Note(text)).RunWith(ChannelLayerSink.ToGroup<Note>(layer, group), Materializer)
            .WaitAsync(Timeout);

        foreach (var channel in new[] { first, second })
        {
            var notes = await ChannelLayerSource.Create<Note>(layer, channel).Take(2).RunWith(Sink.Seq<Note>(), Materializer).WaitAsync(Timeout);
            Assert.Equal(["a", "b"], notes.Select(n => n.Text));
        }
    }

    [Fact]
    public async Task A_sink_on_a_closed_layer_fails_its_stream()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await layer.CloseAsync().WaitAsync(Timeout);

        var done = Source.Single<IReadOnlyDictionary<string, object?>>(Msg("late")).RunWith(ChannelLayerSink.ToChannel(layer, channel), Materializer);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => done.WaitAsync(Timeout));
    }

    [Fact]
    public void Bad_arguments_throw_when_the_stage_is_made()
    {
        var layer = Layer();
        Assert.Throws<ArgumentException>(() => ChannelLayerSource.Create(layer, "no spaces allowed"));
        Assert.Throws<ArgumentException>(() => ChannelLayerSink.ToGroup(layer, "no spaces allowed"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelLayerSink.ToChannel(layer, "q!c", parallelism: 0));
        Assert.Throws<ArgumentException>(() => ChannelLayerSource.Create<List<int>>(layer, "q!c"));
    }
}

/// <summary>The stream stages against the project's test broker.</summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class RabbitMqChannelLayerStreamTests(ITestOutputHelper output) : ChannelLayerStreamTests(output)
{
    protected override IChannelLayer CreateLayer() =>
        new RabbitMqChannelLayer(Sys, new RabbitMqChannelLayerOptions { Host = TestBroker.Url, ReconnectDelay = TimeSpan.FromMilliseconds(100) });
}

/// <summary>The stream stages against the in-memory broker of the TestKit.</summary>
public sealed class InMemoryChannelLayerStreamTests(ITestOutputHelper output) : ChannelLayerStreamTests(output)
{
    private readonly InMemoryBroker _broker = new();

    protected override IChannelLayer CreateLayer() => _broker.CreateLayer(Sys);
}
