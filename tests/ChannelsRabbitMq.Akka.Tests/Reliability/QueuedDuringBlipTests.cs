using System.Diagnostics;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// What a layer gets of the messages sent to it while it is disconnected: the QueueMode
/// trade-off, measured. The blip is made long and deterministic on a dedicated node: the broker
/// closes the layer's connection and guest's permissions on the vhost are withdrawn, so every
/// reconnect is refused until they are restored; meanwhile another user sends to the layer's
/// channel and group.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(DedicatedBrokerCollection.Name)]
public sealed class QueuedDuringBlipTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private const int PerKind = 50;
    private const string SenderUser = "blip-sender";
    private const string SenderPassword = "blip-sender-pw";

    public enum Mode
    {
        /// <summary>The default: the queue outlives the connection for QueueGracePeriod (here 30 s); the blip is shorter.</summary>
        SurvivingQueueShortBlip,

        /// <summary>The default, but the blip outlasts a 1 s grace period: the queue expires.</summary>
        SurvivingQueueBlipLongerThanGrace,

        /// <summary>QueueMode.Exclusive (the Python original): the queue dies with the connection.</summary>
        ExclusiveQueue,
    }

    [Theory]
    [InlineData(Mode.SurvivingQueueShortBlip)]
    [InlineData(Mode.SurvivingQueueBlipLongerThanGrace)]
    [InlineData(Mode.ExclusiveQueue)]
    public async Task Messages_sent_to_a_disconnected_layer(Mode mode)
    {
        cluster.Heal();
        var ctl = cluster.Ctl1;
        try
        {
            ctl.Ctl("add_user", SenderUser, SenderPassword);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("already exists", StringComparison.OrdinalIgnoreCase))
        {
        }
        ctl.Ctl("set_permissions", "-p", "asgi", SenderUser, ".*", ".*", ".*");

        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel && !e.Text.StartsWith("Failure connecting", StringComparison.Ordinal));
        var layer = DedicatedLayers.Create(akka, cluster.Url1, o =>
        {
            o.ReconnectDelay = TimeSpan.FromMilliseconds(200);
            o.QueueMode = mode == Mode.ExclusiveQueue ? QueueMode.Exclusive : QueueMode.Durable;
            o.MaxReconnectDelay = TimeSpan.FromMilliseconds(400); // retries stay frequent: the blip's end is measured
            // Generous for the short blip: a rabbitmqctl call takes 1-3 s on a loaded machine.
            o.QueueGracePeriod = mode == Mode.SurvivingQueueBlipLongerThanGrace ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(30);
        });
        var sender = DedicatedLayers.Create(akka, $"amqp://{SenderUser}:{SenderPassword}@127.0.0.1:{cluster.Port1}/asgi",
            o => o.ReconnectDelay = TimeSpan.FromMilliseconds(200));
        var guestRevoked = false;
        try
        {
            var channel = await layer.NewChannelAsync();
            var group = $"blip-{Guid.NewGuid():N}"[..17];
            await layer.GroupAddAsync(group, channel).WaitAsync(DedicatedLayers.Timeout);
            await sender.WaitForConnectionAsync().WaitAsync(DedicatedLayers.Timeout);
            await sender.SendAsync(channel, Tagged.Message("warm-up")).WaitAsync(DedicatedLayers.Timeout);
            Assert.Equal("warm-up", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout)));

            // The blip begins: no reconnect can succeed until guest gets its permissions back.
            var before = layer.GetStatistics().Reconnects;
            ctl.Ctl("clear_permissions", "-p", "asgi", "guest");
            guestRevoked = true;
            var blip = Stopwatch.StartNew();
            Assert.Equal(1, ctl.CloseConnectionsNamed($"ChannelsRabbitMq.Akka {layer.QueueName}", "blip"));
            await DedicatedLayers.WaitForDisconnectAsync(layer, DedicatedLayers.Timeout, "the layer to see its connection go");
            // Refused access needs an operator: logged at Error, once.
            await akka.WaitForAsync(e => e.Level == LogLevel.ErrorLevel && e.Text.StartsWith("Failure connecting", StringComparison.Ordinal), 1,
                DedicatedLayers.Timeout, "at error level: Failure connecting");
            if (mode != Mode.SurvivingQueueShortBlip)
            {
                // Deterministic: send only once the queue is gone (at once when exclusive, after the grace period otherwise).
                await Poll.UntilAsync(() => !QueueExists(layer.QueueName), TimeSpan.FromSeconds(15), $"queue {layer.QueueName} to disappear", intervalMs: 250);
            }
            else
            {
                Assert.True(QueueExists(layer.QueueName), "the queue did not survive the disconnect");
            }
            var queueGoneAfter = blip.Elapsed;

            for (var i = 0; i < PerKind; i++)
            {
                await sender.SendAsync(channel, Tagged.Message($"direct-{i}")).WaitAsync(DedicatedLayers.Timeout);
                await sender.GroupSendAsync(group, Tagged.Message($"group-{i}", "group")).WaitAsync(DedicatedLayers.Timeout);
            }

            ctl.Ctl("set_permissions", "-p", "asgi", "guest", ".*", ".*", ".*");
            guestRevoked = false;
            await DedicatedLayers.WaitForReconnectAsync(layer, before, DedicatedLayers.Timeout, "the layer to reconnect after the blip");
            var blipLength = blip.Elapsed;

            // A sentinel behind everything: FIFO per channel, so whatever arrives before it is all there is.
            await sender.SendAsync(channel, Tagged.Message("sentinel")).WaitAsync(DedicatedLayers.Timeout);
            var received = new List<string>();
            while (true)
            {
                var id = Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout));
                if (id == "sentinel") break;
                received.Add(id);
            }
            var direct = received.Where(r => r.StartsWith("direct-", StringComparison.Ordinal)).ToArray();
            var grouped = received.Where(r => r.StartsWith("group-", StringComparison.Ordinal)).ToArray();
            var duplicates = received.GroupBy(r => r).Count(g => g.Count() > 1);
            var directInOrder = direct.SequenceEqual(direct.OrderBy(d => int.Parse(d["direct-".Length..])));

            Figures.Report(output, $"messages sent during a blip: {mode}",
                $"blip {Figures.Ms(blipLength)} (queue {(mode == Mode.SurvivingQueueShortBlip ? "kept" : $"gone after {Figures.Ms(queueGoneAfter)}")}); " +
                $"sent while disconnected: {PerKind} direct + {PerKind} group; delivered after reconnect: {direct.Length} direct + {grouped.Length} group; " +
                $"duplicates: {duplicates}; direct in order: {directInOrder}");

            Assert.Equal(0, duplicates);
            if (mode == Mode.SurvivingQueueShortBlip)
            {
                Assert.Equal(PerKind, direct.Length);
                Assert.Equal(PerKind, grouped.Length);
                Assert.True(directInOrder, "direct messages out of order: " + string.Join(" ", direct));
            }
            else
            {
                // Nothing to keep them in: RabbitMQ drops a message routed to no queue.
                Assert.Empty(received);
            }
        }
        finally
        {
            if (guestRevoked) ctl.Ctl("set_permissions", "-p", "asgi", "guest", ".*", ".*", ".*");
            await Task.WhenAll(layer.CloseAsync(), sender.CloseAsync()).WaitAsync(DedicatedLayers.Timeout);
        }
    }

    private bool QueueExists(string queue) =>
        cluster.Ctl1.Ctl("list_queues", "-p", "asgi", "name").Split('\n').Any(l => l.Trim() == queue);
}
