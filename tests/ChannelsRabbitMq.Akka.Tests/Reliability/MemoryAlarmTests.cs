using System.Diagnostics;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// A memory alarm on a dedicated node (<c>set_vm_memory_high_watermark</c> far below what the
/// node uses): RabbitMQ blocks publishing connections until it clears.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(DedicatedBrokerCollection.Name)]
public sealed class MemoryAlarmTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan BlockedFor = TimeSpan.FromSeconds(2);

    private void RaiseAlarm() => cluster.Ctl1.Ctl("set_vm_memory_high_watermark", "0.0000001");

    private void ClearAlarm() => cluster.Ctl1.Ctl("set_vm_memory_high_watermark", "0.4");

    [Fact]
    public async Task Publishes_block_during_a_memory_alarm_the_layer_logs_it_and_traffic_resumes_when_it_clears()
    {
        cluster.Heal();
        await using var akka = new ReliabilitySystem(output);
        var layer = DedicatedLayers.Create(akka, cluster.Url1);
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.SendAsync(channel, Tagged.Message("before")).WaitAsync(DedicatedLayers.Timeout);
            Assert.Equal("before", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout)));

            RaiseAlarm();
            var blocked = layer.SendAsync(channel, Tagged.Message("during"));
            await akka.WaitForWarningsAsync("blocked", 1, DedicatedLayers.Timeout);
            // Bounded negative check: the publish is held while the alarm lasts.
            var finished = await Task.WhenAny(blocked, Task.Delay(BlockedFor));
            Assert.True(finished != blocked, $"the send completed during the alarm ({blocked.Status})");

            var clock = Stopwatch.StartNew();
            ClearAlarm();
            await blocked.WaitAsync(DedicatedLayers.Timeout);
            var resumedAfter = clock.Elapsed;
            Assert.Equal("during", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout)));
            await layer.SendAsync(channel, Tagged.Message("after")).WaitAsync(DedicatedLayers.Timeout);
            Assert.Equal("after", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout)));
            await akka.WaitForAsync(e => e.Text.Contains("unblocked", StringComparison.Ordinal), 1, DedicatedLayers.Timeout, "saying the connection is unblocked");

            Figures.Report(output, "memory alarm: block and resume",
                $"blocked warning: \"{akka.Warnings("blocked")[0].Text}\"\n" +
                $"the send held during the alarm completed {Figures.Ms(resumedAfter)} after the alarm was cleared (including rabbitmqctl's return)\n" +
                $"reconnects during the alarm: {layer.GetStatistics().Reconnects}");
            Assert.Equal(0, layer.GetStatistics().Reconnects);
        }
        finally
        {
            ClearAlarm();
            await layer.CloseAsync().WaitAsync(DedicatedLayers.Timeout);
        }
    }

    [Fact]
    public async Task CloseAsync_completes_while_the_connection_is_blocked_by_a_memory_alarm()
    {
        cluster.Heal();
        await using var akka = new ReliabilitySystem(output);
        var layer = DedicatedLayers.Create(akka, cluster.Url1);
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.SendAsync(channel, Tagged.Message("before")).WaitAsync(DedicatedLayers.Timeout);
            Assert.Equal("before", Tagged.IdOf(await layer.ReceiveAsync(channel).WaitAsync(DedicatedLayers.Timeout)));

            RaiseAlarm();
            var blocked = layer.SendAsync(channel, Tagged.Message("during"));
            var receive = layer.ReceiveAsync(channel);
            await akka.WaitForWarningsAsync("blocked", 1, DedicatedLayers.Timeout);

            var clock = Stopwatch.StartNew();
            await layer.CloseAsync().WaitAsync(TimeSpan.FromSeconds(15));
            var closeTime = clock.Elapsed;

            await Assert.ThrowsAsync<ChannelLayerClosedException>(() => blocked.WaitAsync(DedicatedLayers.Timeout));
            await Assert.ThrowsAsync<ChannelLayerClosedException>(() => receive.WaitAsync(DedicatedLayers.Timeout));
            var closeWarnings = akka.Events.Where(e => e.Level >= LogLevel.WarningLevel && e.Text.Contains("delete", StringComparison.OrdinalIgnoreCase)).ToArray();
            Figures.Report(output, "memory alarm: close while blocked",
                $"CloseAsync completed in {Figures.Ms(closeTime)} while the connection was blocked\n" +
                $"close warnings: {(closeWarnings.Length == 0 ? "none" : string.Join(" | ", closeWarnings.Select(e => e.Text)))}");
        }
        finally
        {
            ClearAlarm();
            await layer.CloseAsync().WaitAsync(DedicatedLayers.Timeout);
        }
    }
}
