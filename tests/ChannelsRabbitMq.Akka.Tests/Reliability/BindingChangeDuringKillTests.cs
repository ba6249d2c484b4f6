using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// Group changes in flight when the broker kills the connection: a change whose operation fails
/// with the old connection must not disturb the connection actor's next life (no failure, no
/// extra reconnect), and the bindings end exactly as the memberships say. Shared node; only
/// this test's connection is closed.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class BindingChangeDuringKillTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);
    private const int Kills = 8;

    [Fact]
    public async Task Group_changes_in_flight_at_a_broker_side_kill_never_make_a_layer_actor_fail()
    {
        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel);
        var layer = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.Url,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        var connectionName = $"ChannelsRabbitMq.Akka {layer.QueueName}";
        using var stop = new CancellationTokenSource();
        var problems = new List<string>();
        try
        {
            var channel = await layer.NewChannelAsync();
            var run = Guid.NewGuid().ToString("N")[..8];
            var kept = $"kept-{run}";
            await layer.GroupAddAsync(kept, channel).WaitAsync(CallTimeout);
            await layer.WaitForConnectionAsync().WaitAsync(CallTimeout);

            // Three loops changing bindings back to back, so that a change is almost always in flight.
            var churn = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
            {
                var group = $"churn{i}-{run}";
                var ops = 0;
                while (!stop.IsCancellationRequested)
                {
                    await layer.GroupAddAsync(group, channel).WaitAsync(CallTimeout);
                    await layer.GroupDiscardAsync(group, channel).WaitAsync(CallTimeout);
                    ops += 2;
                }
                return ops;
            })).ToArray();

            for (var k = 0; k < Kills; k++)
            {
                var before = layer.GetStatistics().Reconnects;
                var closed = NodeCtl.Shared.CloseConnectionsNamed(connectionName, $"binding churn kill {k + 1}");
                Assert.Equal(1, closed);
                await Poll.UntilAsync(() => layer.GetStatistics() is { Connected: true } s && s.Reconnects > before, CallTimeout,
                    $"the layer to reconnect after kill {k + 1}", intervalMs: 10);
            }
            stop.Cancel();
            var ops = await Task.WhenAll(churn).WaitAsync(CallTimeout + CallTimeout);

            // The kept group still works, and only it is bound.
            await layer.GroupSendAsync(kept, Tagged.Message("kept", "group")).WaitAsync(CallTimeout);
            Assert.Equal("kept", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(CallTimeout)));
            var bound = NodeCtl.Shared.BindingsOf("groups").Where(b => b.Queue == layer.QueueName).Select(b => b.RoutingKey).ToArray();
            var failures = akka.Events.Where(e => e.Level == LogLevel.ErrorLevel).ToArray();
            var reconnects = layer.GetStatistics().Reconnects;
            Figures.Report(output, "group changes in flight at kills",
                $"{Kills} kills, {ops.Sum()} binding changes; reconnects {reconnects}; errors logged {failures.Length}; bound at the end: [{string.Join(", ", bound)}]");

            if (failures.Length > 0)
                problems.Add($"{failures.Length} layer actor failure(s) logged, e.g. {failures[0].Text}: {failures[0].Cause?.Split('\n')[0]}");
            if (reconnects != Kills) problems.Add($"{reconnects} reconnects for {Kills} kills (each actor failure is an extra reconnect)");
            if (!bound.SequenceEqual([kept])) problems.Add($"bound to [{string.Join(", ", bound)}], expected only {kept}");
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }
        finally
        {
            stop.Cancel();
            await layer.CloseAsync().WaitAsync(CallTimeout);
        }
    }
}
