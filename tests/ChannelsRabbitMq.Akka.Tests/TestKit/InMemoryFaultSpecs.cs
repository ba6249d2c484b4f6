using System.Diagnostics;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>Every fault of <see cref="ChannelLayerFaults"/> on the in-memory layer, and its awaitable signal.</summary>
public sealed class InMemoryFaultSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly InMemoryBroker _broker = new();

    public InMemoryFaultSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    private InMemoryChannelLayer NewLayer(Action<RabbitMqChannelLayerOptions>? configure = null) =>
        _broker.CreateLayer(Sys, o =>
        {
            o.ReconnectDelay = TimeSpan.FromMilliseconds(50);
            configure?.Invoke(o);
        });

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    private static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        Assert.IsType<string>((await layer.ReceiveAsync(channel).WaitAsync(Timeout))["type"]);

    // ------------------------------------------------------------------ drop

    [Fact]
    public async Task DropConnection_is_done_by_the_broker_and_the_layer_reconnects_with_its_group_bindings()
    {
        await using var layer = NewLayer();
        await using var other = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room-1", channel).WaitAsync(Timeout);
        await layer.GroupAddAsync("room-2", channel).WaitAsync(Timeout);

        var warnings = new Warnings(this);

        var side = await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.Equal(ConnectionDropSide.Broker, side);
        Assert.Contains("closed by the in-memory broker", (await warnings.WaitForAsync("Lost the connection"))[0]);
        Assert.Equal(["room-1", "room-2"], _broker.BindingKeys(layer.QueueName));
        await other.GroupSendAsync("room-2", Msg("after.the.drop")).WaitAsync(Timeout);
        Assert.Equal("after.the.drop", await ReceiveTypeAsync(layer, channel));
        var statistics = layer.GetStatistics();
        Assert.True(statistics.Connected);
        Assert.Equal(1, statistics.Reconnects);
        Assert.Equal(2, layer.Faults.ConnectionsEstablished);
    }

    [Fact]
    public async Task Messages_waiting_in_the_queue_during_a_drop_are_delivered_after_the_reconnect()
    {
        // The default queue outlives a disconnect for QueueGracePeriod, as with RabbitMQ.
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        await using var sender = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await sender.SendAsync(channel, Msg("m1")).WaitAsync(Timeout);
        await sender.SendAsync(channel, Msg("m2")).WaitAsync(Timeout);

        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        await sender.SendAsync(channel, Msg("m3.sent.while.disconnected")).WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        // m1 was held unacked by the lost connection: requeued, and delivered once.
        Assert.Equal("m1", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("m2", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("m3.sent.while.disconnected", await ReceiveTypeAsync(layer, channel));
        await sender.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task With_an_exclusive_queue_messages_waiting_in_it_are_lost_with_the_connection()
    {
        await using var layer = NewLayer(o =>
        {
            o.LocalCapacity = 1;
            o.QueueMode = QueueMode.Exclusive;
        });
        await using var sender = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await sender.SendAsync(channel, Msg("in.memory")).WaitAsync(Timeout);
        await sender.SendAsync(channel, Msg("in.the.queue")).WaitAsync(Timeout);
        Assert.Equal(1, _broker.ReadyCount(layer.QueueName));
        // The first one is on its way to the layer; once the layer holds it, it survives the drop.
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 1), Timeout);

        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        // At most once: what the layer held in memory is still received; the queue's copy is gone.
        Assert.Equal("in.memory", await ReceiveTypeAsync(layer, channel));
        await sender.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_queue_unused_for_longer_than_QueueGracePeriod_is_gone_after_an_outage()
    {
        await using var layer = NewLayer(o => o.QueueGracePeriod = TimeSpan.FromSeconds(1));
        await using var sender = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var channel = await layer.NewChannelAsync();

        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);
        await sender.SendAsync(channel, Msg("expires.with.the.queue")).WaitAsync(Timeout);
        Assert.Equal(1, _broker.ReadyCount(layer.QueueName));
        // The passing of time IS the behaviour under test: the queue's x-expires.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(_broker.QueueExists(layer.QueueName));
        layer.Faults.EndOutage();
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        await sender.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task DropConnection_before_the_first_connection_waits_for_it()
    {
        await using var layer = NewLayer();

        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.Equal(2, layer.Faults.ConnectionsEstablished);
    }

    [Fact]
    public async Task WaitForReconnect_without_a_fault_completes_once_connected()
    {
        await using var layer = NewLayer();

        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.True(layer.GetStatistics().Connected);
        Assert.Equal(0, layer.GetStatistics().Reconnects);
    }

    // ------------------------------------------------------------------ outage

    [Fact]
    public async Task During_an_outage_connection_attempts_are_refused_and_sends_wait_until_it_ends()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

        var warnings = new Warnings(this);

        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);
        var send = layer.GroupSendAsync("room", Msg("sent.during.the.outage"));
        await warnings.WaitForAsync("simulated outage", count: 2);

        Assert.True(layer.Faults.IsInOutage);
        Assert.True(layer.Faults.ConnectAttemptsRefused >= 2);
        Assert.False(send.IsCompleted, "the send completed during the outage");
        Assert.False(layer.GetStatistics().Connected);

        layer.Faults.EndOutage();
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);
        await send.WaitAsync(Timeout);

        Assert.Equal("sent.during.the.outage", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task An_outage_with_a_duration_ends_by_itself()
    {
        await using var layer = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var duration = TimeSpan.FromMilliseconds(300);
        var clock = Stopwatch.StartNew();

        await layer.Faults.BeginOutageAsync(duration).WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        Assert.True(clock.Elapsed >= duration, $"reconnected after {clock.Elapsed} of a {duration} outage");
        Assert.False(layer.Faults.IsInOutage);
        Assert.True(layer.Faults.ConnectAttemptsRefused >= 1);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("after")).WaitAsync(Timeout);
        Assert.Equal("after", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task An_outage_before_the_first_connection_keeps_the_layer_offline_until_it_ends()
    {
        var warnings = new Warnings(this);
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);
        var channel = await layer.NewChannelAsync();

        var send = layer.SendAsync(channel, Msg("queued"));
        Assert.Contains("Failure connecting", (await warnings.WaitForAsync("simulated outage"))[0]);
        Assert.False(send.IsCompleted);
        Assert.Equal(0, layer.Faults.ConnectionsEstablished);
        layer.Faults.EndOutage();

        await send.WaitAsync(Timeout);
        Assert.Equal("queued", await ReceiveTypeAsync(layer, channel));
    }

    // ------------------------------------------------------------------ sends

    [Fact]
    public async Task FailNextSends_makes_exactly_that_many_sends_throw_ChannelFullException()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

        var refused = layer.Faults.FailNextSends(2);
        await layer.GroupSendAsync("room", Msg("group.sends.are.not.affected")).WaitAsync(Timeout);
        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Msg("refused.1")).WaitAsync(Timeout));
        Assert.False(refused.IsCompleted);
        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Msg("refused.2")).WaitAsync(Timeout));
        await refused.WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("accepted")).WaitAsync(Timeout);

        Assert.Equal("group.sends.are.not.affected", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("accepted", await ReceiveTypeAsync(layer, channel));
        Assert.Equal(2, layer.GetStatistics().ChannelFull);
    }

    [Fact]
    public async Task Reset_disarms_the_faults_and_cancels_their_signals()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        var refused = layer.Faults.FailNextSends(1);
        var dropped = layer.Faults.DropNextDeliveries(1);
        layer.Faults.DelayDeliveries(TimeSpan.FromMinutes(1));

        layer.Faults.Reset();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => refused.WaitAsync(Timeout));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dropped.WaitAsync(Timeout));
        Assert.Equal(TimeSpan.Zero, layer.Faults.DeliveryDelay);
        await layer.SendAsync(channel, Msg("delivered")).WaitAsync(Timeout);
        Assert.Equal("delivered", await ReceiveTypeAsync(layer, channel));
    }

    // ------------------------------------------------------------------ deliveries

    [Fact]
    public async Task DropNextDeliveries_loses_that_many_messages_without_holding_their_prefetch_slots()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

        var dropped = layer.Faults.DropNextDeliveries(2);
        await layer.SendAsync(channel, Msg("lost.1")).WaitAsync(Timeout);
        await layer.GroupSendAsync("room", Msg("lost.2")).WaitAsync(Timeout);
        await dropped.WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("delivered")).WaitAsync(Timeout);

        // With LocalCapacity 1, "delivered" can only arrive if the lost ones were acked.
        Assert.Equal("delivered", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task DelayDeliveries_delays_each_message_and_keeps_their_order()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var delay = TimeSpan.FromMilliseconds(300);

        layer.Faults.DelayDeliveries(delay);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++) await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);
        var first = await ReceiveTypeAsync(layer, channel);
        var elapsed = clock.Elapsed;
        layer.Faults.DelayDeliveries(TimeSpan.Zero);
        await layer.SendAsync(channel, Msg("undelayed")).WaitAsync(Timeout);

        Assert.True(elapsed >= delay, $"received after {elapsed}, with a delay of {delay}");
        Assert.Equal("m0", first);
        for (var i = 1; i < 5; i++) Assert.Equal($"m{i}", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("undelayed", await ReceiveTypeAsync(layer, channel)); // queued behind the delayed ones
    }

    [Fact]
    public async Task Deliveries_still_delayed_when_the_connection_drops_are_redelivered_once_after_the_reconnect()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        layer.Faults.DelayDeliveries(TimeSpan.FromMinutes(5));
        await layer.SendAsync(channel, Msg("delayed")).WaitAsync(Timeout);

        layer.Faults.DelayDeliveries(TimeSpan.Zero); // for later deliveries: "delayed" stays delayed
        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("delayed", await ReceiveTypeAsync(layer, channel)); // unacked: requeued by the broker
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Deliveries_still_delayed_when_an_exclusive_queues_connection_drops_are_lost_with_it()
    {
        await using var layer = NewLayer(o => o.QueueMode = QueueMode.Exclusive);
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        layer.Faults.DelayDeliveries(TimeSpan.FromMinutes(5));
        await layer.SendAsync(channel, Msg("delayed.then.lost")).WaitAsync(Timeout);

        // Whether it reached the layer's session or was still on its way, it goes with the queue.
        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);
        layer.Faults.DelayDeliveries(TimeSpan.Zero); // before the sentinel is sent
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }
}
