using Akka.Event;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// A body bigger than RabbitMQ.Client's inbound limit (64 MiB by default; RabbitMQ 3.10 accepts
/// up to 128 MiB) published into a layer's queue. The client breaks the connection when it
/// arrives, before the layer sees it. Runs on a dedicated node: it moves a lot of bytes. RabbitMQ
/// 4.x refuses such a body itself (16 MiB by default, closing the publisher's channel), so there
/// the test pins that the layer is not disturbed by a neighbour's refused publish.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(DedicatedBrokerCollection.Name)]
public sealed class OversizedInboundTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_body_over_the_clients_inbound_limit_does_not_wedge_a_queue_that_survives_reconnects()
    {
        cluster.Heal();
        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel);
        var layer = DedicatedLayers.Create(akka, cluster.Url1, o =>
        {
            o.ReconnectDelay = TimeSpan.FromMilliseconds(200);
            o.QueueMode = QueueMode.Durable; // the queue, and what is in it, survives the connection
        });
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.WaitForConnectionAsync().WaitAsync(Timeout);
            var factory = new ConnectionFactory { Uri = new Uri(cluster.Url1) };
            {
                // A connection of its own, with confirms (so it is in the queue before the next
                // message): RabbitMQ 4.x refuses the oversized body by closing the channel (and
                // may break the client's connection) instead.
                await using var poisoner = await factory.CreateConnectionAsync().WaitAsync(Timeout);
                try
                {
                    await using var poisonChannel = await poisoner.CreateChannelAsync(new CreateChannelOptions(true, true));
                    var poison = new byte[65 * 1024 * 1024];
                    await poisonChannel.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: poison).AsTask().WaitAsync(Timeout);
                }
                catch (Exception e) when (e is RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.AlreadyClosedException
                                              or RabbitMQ.Client.Exceptions.PublishException)
                {
                    output.WriteLine($"the broker refused the oversized body: {e.Message}");
                }
            }
            {
                await using var raw = await factory.CreateConnectionAsync().WaitAsync(Timeout);
                await using var publisher = await raw.CreateChannelAsync();
                await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName,
                    body: WireCodec.Encode(Tagged.Message("after-poison"), channel, null, 1 << 20)).AsTask().WaitAsync(Timeout);
            }

            var receive = layer.ReceiveAsync(channel);
            var arrived = await Task.WhenAny(receive, Task.Delay(Timeout)) == receive;
            var stats = layer.GetStatistics();
            var losses = akka.Warnings("Lost the connection");
            Figures.Report(output, "oversized inbound body (65 MiB)",
                $"the next message arrived: {arrived}; reconnects in {Timeout.TotalSeconds:0} s: {stats.Reconnects}; malformed counted: {stats.Malformed}\n" +
                $"first loss: {losses.FirstOrDefault()?.Text ?? "none"}");
            Assert.True(arrived,
                $"the message published after a 65 MiB body never arrived within {Timeout.TotalSeconds:0} s: the client broke the connection on the " +
                $"oversized delivery, the surviving queue redelivered it on every reconnect ({stats.Reconnects} reconnects so far), and nothing behind it is delivered");
            Assert.Equal("after-poison", Tagged.IdOf(await receive));
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }
}
