using ChannelsRabbitMq.Akka.TestKit;
using ChannelsRabbitMq.Akka.Tests.Integration;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// The in-memory layer as users see it, beyond the shared conformance suite: layers of one broker
/// are separate processes on one RabbitMQ, the broker's queue reflects capacity, expiry and close,
/// and a queue name held by another layer is a conflict as with RabbitMQ.
/// </summary>
public sealed class InMemoryChannelLayerSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly InMemoryBroker _broker = new("specs");

    private readonly ITestOutputHelper _output;

    public InMemoryChannelLayerSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output)
    {
        _output = output;
    }

    private InMemoryChannelLayer NewLayer(Action<RabbitMqChannelLayerOptions>? configure = null, InMemoryBroker? broker = null) =>
        (broker ?? _broker).CreateLayer(Sys, o =>
        {
            o.ReconnectDelay = TimeSpan.FromMilliseconds(50);
            configure?.Invoke(o);
        });

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    private static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        Assert.IsType<string>((await layer.ReceiveAsync(channel).WaitAsync(Timeout))["type"]);

    [Fact]
    public async Task Two_layers_of_one_broker_send_to_each_other_and_share_groups()
    {
        await using var server1 = NewLayer();
        await using var server2 = NewLayer();
        await Task.WhenAll(server1.WaitForConnectionAsync(), server2.WaitForConnectionAsync()).WaitAsync(Timeout);
        var alice = await server1.NewChannelAsync();
        var bob = await server2.NewChannelAsync();
        await server1.GroupAddAsync("lobby", alice).WaitAsync(Timeout);
        await server2.GroupAddAsync("lobby", bob).WaitAsync(Timeout);

        await server1.SendAsync(bob, Msg("direct.to.bob")).WaitAsync(Timeout);
        await server2.GroupSendAsync("lobby", Msg("to.the.lobby")).WaitAsync(Timeout);

        Assert.Equal("direct.to.bob", await ReceiveTypeAsync(server2, bob));
        Assert.Equal("to.the.lobby", await ReceiveTypeAsync(server2, bob));
        Assert.Equal("to.the.lobby", await ReceiveTypeAsync(server1, alice));
        Assert.Equal(2, _broker.ConnectionCount);
        Assert.Equal(["lobby"], _broker.BindingKeys(server1.QueueName));
    }

    [Fact]
    public async Task Layers_of_different_brokers_cannot_reach_each_other()
    {
        var otherBroker = new InMemoryBroker("elsewhere");
        await using var here = NewLayer();
        await using var there = NewLayer(broker: otherBroker);
        await Task.WhenAll(here.WaitForConnectionAsync(), there.WaitForConnectionAsync()).WaitAsync(Timeout);
        var theirs = await there.NewChannelAsync();

        await here.SendAsync(theirs, Msg("goes.nowhere")).WaitAsync(Timeout); // unroutable: dropped, as RabbitMQ does

        await there.SendAsync(theirs, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(there, theirs));
        Assert.False(_broker.QueueExists(there.QueueName));
    }

    [Fact]
    public async Task Sends_beyond_RemoteCapacity_throw_ChannelFullException_and_the_queue_holds_exactly_RemoteCapacity()
    {
        await using var receiver = NewLayer(o =>
        {
            o.LocalCapacity = 1;
            o.RemoteCapacity = 3;
        });
        await using var sender = NewLayer();
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout);
        var channel = await receiver.NewChannelAsync();

        for (var i = 0; i < 4; i++) await sender.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout); // 1 in memory, 3 queued

        var full = await Assert.ThrowsAsync<ChannelFullException>(() => sender.SendAsync(channel, Msg("m4")).WaitAsync(Timeout));
        Assert.Contains(channel, full.Message);
        Assert.Equal(3, _broker.ReadyCount(receiver.QueueName));
        Assert.Equal(1, sender.GetStatistics().ChannelFull);
        for (var i = 0; i < 4; i++) Assert.Equal($"m{i}", await ReceiveTypeAsync(receiver, channel));
    }

    [Fact]
    public async Task A_message_waiting_in_the_queue_longer_than_Expiry_is_dropped_by_the_broker()
    {
        await using var layer = NewLayer(o =>
        {
            o.LocalCapacity = 1;
            o.Expiry = TimeSpan.FromMilliseconds(100);
            o.LocalExpiry = TimeSpan.FromSeconds(30);
        });
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("held.in.memory")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("expires.in.the.queue")).WaitAsync(Timeout);
        Assert.Equal(1, _broker.ReadyCount(layer.QueueName));

        // The passing of time IS the behaviour under test.
        await Task.Delay(TimeSpan.FromMilliseconds(400));

        Assert.Equal(0, _broker.ReadyCount(layer.QueueName));
        Assert.Equal("held.in.memory", await ReceiveTypeAsync(layer, channel));
        await layer.SendAsync(channel, Msg("fresh")).WaitAsync(Timeout);
        Assert.Equal("fresh", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Close_deletes_the_layers_queue_and_connection_and_later_messages_to_it_are_dropped()
    {
        var closing = NewLayer();
        await using var other = NewLayer();
        await Task.WhenAll(closing.WaitForConnectionAsync(), other.WaitForConnectionAsync()).WaitAsync(Timeout);
        var channel = await closing.NewChannelAsync();
        await closing.GroupAddAsync("g", channel).WaitAsync(Timeout);
        var pending = closing.ReceiveAsync(channel);

        await closing.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => pending.WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => closing.SendAsync(channel, Msg("x")));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => closing.Faults.WaitForReconnectAsync());
        Assert.False(_broker.QueueExists(closing.QueueName));
        Assert.Empty(_broker.BindingKeys(closing.QueueName));
        Assert.Equal(1, _broker.ConnectionCount);
        await other.SendAsync(channel, Msg("to.a.closed.layer")).WaitAsync(Timeout); // no queue: dropped, no error
        await other.GroupSendAsync("g", Msg("to.a.closed.layer")).WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_second_layer_with_the_same_queue_name_waits_until_the_first_closes()
    {
        var queue = $"q-{Guid.NewGuid():N}"[..14];
        var first = NewLayer(o => o.QueueName = queue);
        await first.WaitForConnectionAsync().WaitAsync(Timeout);
        await using var otherProcess = new AkkaTestSystem(_output); // another process: its own actor system
        await using var second = _broker.CreateLayer(otherProcess.System, o =>
        {
            o.QueueName = queue;
            o.ReconnectDelay = TimeSpan.FromMilliseconds(50);
        });

        var send = second.SendAsync($"{queue}!x", Msg("from.the.second"));
        Assert.Contains("held by another connection", (await otherProcess.Log.WaitForConnectFailuresAsync(1, Timeout))[0]);
        Assert.False(send.IsCompleted, "the send completed while the first layer still held the queue");

        await first.CloseAsync().WaitAsync(Timeout);
        await send.WaitAsync(Timeout);

        Assert.Equal("from.the.second", await ReceiveTypeAsync(second, $"{queue}!x"));
    }

    [Fact]
    public async Task DropAllConnections_makes_every_layer_reconnect_with_its_groups()
    {
        await using var server1 = NewLayer();
        await using var server2 = NewLayer();
        var alice = await server1.NewChannelAsync();
        var bob = await server2.NewChannelAsync();
        await server1.GroupAddAsync("room", alice).WaitAsync(Timeout);
        await server2.GroupAddAsync("room", bob).WaitAsync(Timeout);

        Assert.Equal(2, _broker.DropAllConnections());
        await Task.WhenAll(server1.Faults.WaitForReconnectAsync(), server2.Faults.WaitForReconnectAsync()).WaitAsync(Timeout);

        await server1.GroupSendAsync("room", Msg("after.restart")).WaitAsync(Timeout);
        Assert.Equal("after.restart", await ReceiveTypeAsync(server1, alice));
        Assert.Equal("after.restart", await ReceiveTypeAsync(server2, bob));
        Assert.Equal(1, server1.GetStatistics().Reconnects);
        Assert.Equal(1, server2.GetStatistics().Reconnects);
    }

    [Fact]
    public async Task Options_are_validated_as_for_RabbitMQ()
    {
        Assert.Throws<ArgumentException>(() => _broker.CreateLayer(Sys, o => o.RemoteCapacity = 0));
        Assert.Throws<ArgumentException>(() => _broker.CreateLayer(Sys, o => o.QueueName = "bad name"));
        await using var layer = _broker.CreateLayer(Sys, o => o.Host = "ignored://anything");
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        Assert.StartsWith(layer.QueueName + "!", await layer.NewChannelAsync());
        Assert.Equal($"InMemoryChannelLayer {layer.QueueName} on specs", layer.ToString());
    }
}
