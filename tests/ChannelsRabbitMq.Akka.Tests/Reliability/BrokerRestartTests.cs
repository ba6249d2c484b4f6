using System.Diagnostics;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// The broker application stops and starts (<c>rabbitmqctl stop_app</c> / <c>start_app</c>) twice
/// in a row on a dedicated node; the layers come back within <c>ReconnectDelay</c> + 1 s of the
/// broker being ready and traffic resumes.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(DedicatedBrokerCollection.Name)]
public sealed class BrokerRestartTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1); // the default
    // The backoff capped at ReconnectDelay: every wait is ReconnectDelay ±20 %, whatever the
    // number of failures while the broker is down, so the bound below does not depend on it.
    private static readonly TimeSpan Limit = ReconnectDelay * (1 + global::ChannelsRabbitMq.Akka.Actors.ReconnectBackoff.Jitter) + TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Two_broker_restarts_in_a_row_each_reconnect_within_one_capped_wait_plus_1s_of_the_broker_being_ready()
    {
        cluster.Heal();
        await using var akka = new ReliabilitySystem(output);
        var first = DedicatedLayers.Create(akka, cluster.Url1, Capped);
        var second = DedicatedLayers.Create(akka, cluster.Url1, Capped);
        var report = new StringBuilder();
        report.AppendLine($"cluster start (2 nodes, fresh, joined): {Figures.Ms(cluster.StartTime)}");
        try
        {
            var a = await first.NewChannelAsync();
            var b = await second.NewChannelAsync();
            var group = $"restart-{Guid.NewGuid():N}"[..20];
            await first.GroupAddAsync(group, a).WaitAsync(DedicatedLayers.Timeout);
            await second.GroupAddAsync(group, b).WaitAsync(DedicatedLayers.Timeout);
            await DedicatedLayers.AssertTrafficFlowsAsync(first, a, second, b, group, "before");

            var failures = new List<string>();
            for (var round = 1; round <= 2; round++)
            {
                var before = new[] { first.GetStatistics().Reconnects, second.GetStatistics().Reconnects };
                var clock = Stopwatch.StartNew();
                await cluster.Ctl1.CtlAsync("stop_app");
                var stopped = clock.Elapsed;
                await DedicatedLayers.WaitForDisconnectAsync(first, DedicatedLayers.Timeout, "the first layer to see the broker go");
                await DedicatedLayers.WaitForDisconnectAsync(second, DedicatedLayers.Timeout, "the second layer to see the broker go");

                await Task.Delay(Outage); // the outage itself, not a synchronisation

                using var portWatch = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                var startClock = Stopwatch.StartNew();
                // Watch the listener and the layers from before start_app, on one clock.
                var portOpen = DedicatedLayers.WhenPortOpensAsync(cluster.Port1, startClock, portWatch.Token);
                var reconnecting = Task.WhenAll(
                    ReconnectedAtAsync(first, before[0], startClock, $"the first layer to reconnect (round {round})"),
                    ReconnectedAtAsync(second, before[1], startClock, $"the second layer to reconnect (round {round})"));
                await cluster.Ctl1.CtlAsync("start_app");
                var startAppReturned = startClock.Elapsed;
                var portOpenedAt = await portOpen.WaitAsync(DedicatedLayers.Timeout);
                // "Ready": the earlier of the listener accepting and start_app returning.
                var ready = portOpenedAt < startAppReturned ? portOpenedAt : startAppReturned;
                var afterReady = (await reconnecting).Select(t => t - ready).ToArray();

                await DedicatedLayers.AssertTrafficFlowsAsync(first, a, second, b, group, $"round{round}");
                report.AppendLine($"round {round}: stop_app took {Figures.Ms(stopped)}; start_app returned after {Figures.Ms(startAppReturned)}, " +
                                  $"port open after {Figures.Ms(portOpenedAt)}; layers connected {string.Join(" / ", afterReady.Select(Figures.Ms))} after the broker was ready");
                foreach (var t in afterReady)
                    if (t > Limit)
                        failures.Add($"round {round}: a layer reconnected {Figures.Ms(t)} after the broker was ready (limit {Figures.Ms(Limit)})");
            }
            report.AppendLine($"connection attempts that failed while the broker was down (any level): {akka.Events.Count(e => e.Text.StartsWith("Failure connecting", StringComparison.Ordinal))}");
            Figures.Report(output, "broker restart (stop_app/start_app twice)", report.ToString());
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
        finally
        {
            cluster.Heal();
            await Task.WhenAll(first.CloseAsync(), second.CloseAsync()).WaitAsync(DedicatedLayers.Timeout);
        }
    }

    private static void Capped(RabbitMqChannelLayerOptions options)
    {
        options.ReconnectDelay = ReconnectDelay;
        options.MaxReconnectDelay = ReconnectDelay;
    }

    private static async Task<TimeSpan> ReconnectedAtAsync(RabbitMqChannelLayer layer, long reconnectsBefore, Stopwatch clock, string what)
    {
        await DedicatedLayers.WaitForReconnectAsync(layer, reconnectsBefore, TimeSpan.FromSeconds(40), what);
        return clock.Elapsed;
    }
}
