using System.Diagnostics;
using System.Text;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// A two-node cluster; the layer's <c>Host</c> lists both nodes. The node it is connected to
/// stops: it fails over to the other (declaring its queue there: classic queues are node-local)
/// and direct and group traffic resumes.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(DedicatedBrokerCollection.Name)]
public sealed class ClusterFailoverTests(ClusterFixture cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task When_its_node_stops_the_layer_fails_over_to_the_next_host_and_traffic_resumes()
    {
        cluster.Heal();
        await using var akka = new ReliabilitySystem(output);
        var reconnectDelay = TimeSpan.FromSeconds(1); // the default
        var roaming = DedicatedLayers.Create(akka, $"{cluster.Url1},{cluster.Url2}", o => o.ReconnectDelay = reconnectDelay);
        var anchored = DedicatedLayers.Create(akka, cluster.Url2, o => o.ReconnectDelay = reconnectDelay);
        var roamingName = $"ChannelsRabbitMq.Akka {roaming.QueueName}";
        try
        {
            var r = await roaming.NewChannelAsync();
            var s = await anchored.NewChannelAsync();
            var group = $"failover-{Guid.NewGuid():N}"[..21];
            await roaming.GroupAddAsync(group, r).WaitAsync(DedicatedLayers.Timeout);
            await anchored.GroupAddAsync(group, s).WaitAsync(DedicatedLayers.Timeout);
            Assert.Equal(cluster.Node1, NodeOf(roamingName));
            await DedicatedLayers.AssertTrafficFlowsAsync(roaming, r, anchored, s, group, "before");

            var before = roaming.GetStatistics().Reconnects;
            var clock = Stopwatch.StartNew();
            var failedOverAt = ReconnectedAtAsync(roaming, before, clock);
            await cluster.Ctl1.CtlAsync("stop_app");
            var stopReturned = clock.Elapsed;
            var connectedAt = await failedOverAt;

            // The layer's own view: from the lost connection to the new one (log timestamps).
            var lost = (await akka.WaitForWarningsAsync("Lost the connection", 1, DedicatedLayers.Timeout))
                .First(e => e.Source.Contains(roaming.QueueName, StringComparison.Ordinal));
            var connected = akka.Events.Last(e => e.Text.StartsWith("Connected to", StringComparison.Ordinal)
                                                  && e.Source.Contains(roaming.QueueName, StringComparison.Ordinal));
            var failover = connected.Timestamp - lost.Timestamp;

            Assert.Equal(cluster.Node2, NodeOf(roamingName));
            await DedicatedLayers.AssertTrafficFlowsAsync(roaming, r, anchored, s, group, "after");
            var bindings = cluster.Ctl2.BindingsOf("groups");
            Assert.Contains((roaming.QueueName, group), bindings);

            var report = new StringBuilder();
            report.AppendLine($"Host = node1 ({cluster.Port1}), node2 ({cluster.Port2}); ReconnectDelay {Figures.Ms(reconnectDelay)}");
            report.AppendLine($"stop_app of node1 returned after {Figures.Ms(stopReturned)}; the test saw the layer connected to node2 {Figures.Ms(connectedAt)} after issuing it");
            report.AppendLine($"failover (layer log: connection lost → connected to node2): {Figures.Ms(failover)}");
            report.AppendLine($"connection failures logged during the failover: {akka.Warnings("Failure connecting").Count(e => e.Source.Contains(roaming.QueueName, StringComparison.Ordinal))}");
            report.AppendLine($"direct and group traffic between a layer on node2 and the failed-over layer: OK; group binding on node2: present");
            Figures.Report(output, "cluster failover", report.ToString());
        }
        finally
        {
            cluster.Heal();
            await Task.WhenAll(roaming.CloseAsync(), anchored.CloseAsync()).WaitAsync(DedicatedLayers.Timeout);
        }
    }

    private string NodeOf(string connectionName)
    {
        var nodes = cluster.Ctl2.ConnectionNames().Where(c => c.Name == connectionName).Select(c => c.Node).ToArray();
        Assert.True(nodes.Length == 1, $"expected one connection named {connectionName}, found {nodes.Length}");
        return nodes[0];
    }

    private static async Task<TimeSpan> ReconnectedAtAsync(RabbitMqChannelLayer layer, long before, Stopwatch clock)
    {
        await DedicatedLayers.WaitForReconnectAsync(layer, before, TimeSpan.FromSeconds(40), "the layer to fail over");
        return clock.Elapsed;
    }
}
