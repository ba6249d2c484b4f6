using ChannelsRabbitMq.Akka.Tests.Actors;
using ChannelsRabbitMq.Akka.Tests.TestKit;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Telemetry;

/// <summary>
/// Every way the layer drops a message is counted in <see cref="ChannelLayerStatistics"/> (and the
/// meter, through the same counters) and logged. Messages expired in the broker's queue
/// (<c>x-message-ttl</c>) are the broker's to drop, silently: the layer never sees them.
/// </summary>
public sealed class DropCounterSpecs : FakeBrokerSpec
{
    public DropCounterSpecs(ITestOutputHelper output) : base(output) { }

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    [Fact]
    public async Task A_delivery_dropped_by_DropNextDeliveries_is_counted_and_logged()
    {
        var broker = new InMemoryBroker();
        await using var layer = broker.CreateLayer(Sys);
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var warnings = new Warnings(this);

        var dropped = layer.Faults.DropNextDeliveries(1);
        await layer.SendAsync(channel, Msg("lost")).WaitAsync(Timeout);
        await dropped.WaitAsync(Timeout);

        Assert.Equal(1, layer.GetStatistics().DroppedSimulated);
        Assert.Contains(layer.QueueName, (await warnings.WaitForAsync("DropNextDeliveries"))[0]);
    }

    [Fact]
    public async Task A_message_nobody_received_within_LocalExpiry_is_counted_as_expired_locally()
    {
        var broker = new InMemoryBroker();
        await using var layer = broker.CreateLayer(Sys, o => o.LocalExpiry = TimeSpan.FromMilliseconds(50));
        var channel = await layer.NewChannelAsync();
        var warnings = new Warnings(this);

        await layer.SendAsync(channel, Msg("unread")).WaitAsync(Timeout);
        await warnings.WaitForAsync("expired locally");

        Assert.Equal(1, layer.GetStatistics().ExpiredLocally);
    }

    [Fact]
    public async Task A_send_refused_by_a_full_queue_is_counted_by_the_sender_as_channel_full()
    {
        var broker = new InMemoryBroker();
        await using var receiver = broker.CreateLayer(Sys, o => { o.LocalCapacity = 1; o.RemoteCapacity = 1; });
        await using var sender = broker.CreateLayer(Sys);
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout);
        var channel = await receiver.NewChannelAsync();
        await sender.SendAsync(channel, Msg("held in memory")).WaitAsync(Timeout);
        await sender.SendAsync(channel, Msg("waits in the queue")).WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelFullException>(() => sender.SendAsync(channel, Msg("refused")).WaitAsync(Timeout));

        Assert.Equal(1, sender.GetStatistics().ChannelFull);
    }

    [Fact]
    public async Task A_malformed_delivery_is_counted_and_logged()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var warnings = new Warnings(this);

        session.Inject([0xc1]); // never valid msgpack

        await warnings.WaitForAsync("malformed");
        Assert.Equal(1, layer.GetStatistics().Malformed);
    }

    [Fact]
    public async Task A_send_unconfirmed_when_its_connection_drops_is_counted_as_lost_with_the_connection_and_logged()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        session.HoldConfirms = true;
        var warnings = new Warnings(this);

        var send = layer.SendAsync(channel, Message("in flight"));
        await session.PublishHeld.WaitAsync(Timeout);
        session.Drop();
        await send.WaitAsync(Timeout);

        await warnings.WaitForAsync("it may be lost");
        Assert.Equal(1, layer.GetStatistics().LostWithConnection);
    }
}
