using System.Diagnostics;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// <see cref="ChannelLayerFaults"/> on the real RabbitMQ layer, against the test broker
/// (<c>scripts/broker.sh start</c>): drops from the broker's side and from the client's, outages,
/// refused sends, lost and delayed deliveries — and the layer's recovery from each.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class RabbitMqFaultSpecs : global::Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly List<IChannelLayer> _layers = [];

    public RabbitMqFaultSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    /// <summary>The test broker's rabbitmqctl: <c>CHANNELS_RABBITMQ_CTL</c> (split on spaces), else <c>scripts/broker.sh ctl</c>.</summary>
    internal static IReadOnlyList<string> CtlCommand =>
        Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_CTL") is { Length: > 0 } command
            ? command.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : ["bash", Path.Combine(TestBroker.RepoRoot, "scripts", "broker.sh"), "ctl"];

    internal static RabbitMqChannelLayerOptions Options(Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var options = new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.Url,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        return options;
    }

    private RabbitMqLayerWithFaults FaultyLayer(IReadOnlyList<string>? ctl, Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var created = FaultyRabbitMqChannelLayer.Create(Sys, Options(configure), new RabbitMqFaultOptions { CtlCommand = ctl });
        _layers.Add(created.Layer);
        return created;
    }

    private RabbitMqChannelLayer PlainLayer()
    {
        var layer = new RabbitMqChannelLayer(Sys, Options());
        _layers.Add(layer);
        return layer;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await Task.WhenAll(_layers.Select(l => l.CloseAsync())).WaitAsync(Timeout);

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        Assert.IsType<string>((await layer.ReceiveAsync(channel).WaitAsync(Timeout))["type"]);

    [Fact]
    public async Task The_broker_closes_the_connection_and_the_layer_reconnects_and_replays_its_group_bindings()
    {
        var (layer, faults) = FaultyLayer(CtlCommand);
        var otherProcess = PlainLayer();
        var channel = await layer.NewChannelAsync();
        var (room1, room2) = (Unique("room-1"), Unique("room-2"));
        await layer.GroupAddAsync(room1, channel).WaitAsync(Timeout);
        await layer.GroupAddAsync(room2, channel).WaitAsync(Timeout);
        var before = await layer.GetConnectionAsync().WaitAsync(Timeout);
        var warnings = new Warnings(this);

        var side = await faults.DropConnectionAsync().WaitAsync(Timeout);
        await faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.Equal(ConnectionDropSide.Broker, side);
        var lost = (await warnings.WaitForAsync("Lost the connection"))[0];
        Assert.Contains("CONNECTION_FORCED", lost); // RabbitMQ's reply to rabbitmqctl close_connection
        var after = await layer.GetConnectionAsync().WaitAsync(Timeout);
        Assert.NotSame(before, after);
        Assert.True(after.IsOpen);
        await otherProcess.WaitForConnectionAsync().WaitAsync(Timeout);
        await otherProcess.GroupSendAsync(room1, Msg("room.1.after.the.drop")).WaitAsync(Timeout);
        await otherProcess.GroupSendAsync(room2, Msg("room.2.after.the.drop")).WaitAsync(Timeout);
        Assert.Equal("room.1.after.the.drop", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("room.2.after.the.drop", await ReceiveTypeAsync(layer, channel));
        Assert.Equal(1, layer.GetStatistics().Reconnects);
    }

    [Fact]
    public async Task Without_rabbitmqctl_the_client_aborts_the_connection_and_the_layer_reconnects()
    {
        var (layer, faults) = FaultyLayer(ctl: null);
        var channel = await layer.NewChannelAsync();
        var room = Unique("room");
        await layer.GroupAddAsync(room, channel).WaitAsync(Timeout);

        var side = await faults.DropConnectionAsync().WaitAsync(Timeout);
        var send = layer.GroupSendAsync(room, Msg("sent.while.reconnecting"));
        await faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.Equal(ConnectionDropSide.Client, side);
        await send.WaitAsync(Timeout);
        Assert.Equal("sent.while.reconnecting", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_rabbitmqctl_that_fails_falls_back_to_a_client_abort_with_a_warning()
    {
        var (layer, faults) = FaultyLayer(ctl: ["false"]);
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var warnings = new Warnings(this);

        var side = await faults.DropConnectionAsync().WaitAsync(Timeout);
        await faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.Equal(ConnectionDropSide.Client, side);
        Assert.Contains("aborting it from the client instead", (await warnings.WaitForAsync("rabbitmqctl"))[0]);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("after")).WaitAsync(Timeout);
        Assert.Equal("after", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task An_outage_refuses_connection_attempts_until_it_ends_and_sends_made_meanwhile_are_delivered_after()
    {
        var (layer, faults) = FaultyLayer(CtlCommand);
        var channel = await layer.NewChannelAsync();
        var room = Unique("room");
        await layer.GroupAddAsync(room, channel).WaitAsync(Timeout);
        var warnings = new Warnings(this);

        await faults.BeginOutageAsync().WaitAsync(Timeout);
        var send = layer.GroupSendAsync(room, Msg("sent.during.the.outage"));
        await warnings.WaitForAsync("simulated outage", count: 2);
        Assert.False(send.IsCompleted, "the send completed during the outage");
        Assert.False(layer.GetStatistics().Connected);
        faults.EndOutage();
        await faults.WaitForReconnectAsync().WaitAsync(Timeout);

        await send.WaitAsync(Timeout);
        Assert.Equal("sent.during.the.outage", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Refused_sends_lost_deliveries_and_delayed_deliveries_on_RabbitMQ()
    {
        var (layer, faults) = FaultyLayer(CtlCommand, o => o.LocalCapacity = 1);
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        var refused = faults.FailNextSends(1);
        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Msg("refused")).WaitAsync(Timeout));
        await refused.WaitAsync(Timeout);

        var dropped = faults.DropNextDeliveries(1);
        await layer.SendAsync(channel, Msg("lost")).WaitAsync(Timeout);
        await dropped.WaitAsync(Timeout);

        var delay = TimeSpan.FromMilliseconds(300);
        faults.DelayDeliveries(delay);
        var clock = Stopwatch.StartNew();
        await layer.SendAsync(channel, Msg("delayed")).WaitAsync(Timeout);
        Assert.Equal("delayed", await ReceiveTypeAsync(layer, channel)); // "lost" never arrives; its slot was freed
        Assert.True(clock.Elapsed >= delay, $"received after {clock.Elapsed}, with a delay of {delay}");
        Assert.Equal(1, layer.GetStatistics().ChannelFull);
    }
}
