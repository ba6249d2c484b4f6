using System.Diagnostics;
using ChannelsRabbitMq.Akka.Samples.Chat.Load;
using HdrHistogram;
using Spectre.Console;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>The figures of one round: one system, one rate.</summary>
public sealed record RoundResult(
    string System, string Kind, double Rate, int Clients, int Rooms, double DurationSeconds, long Sent, long Expected, long Delivered, long Lost,
    long Duplicates, long Errors, int Disconnected, double P50Ms, double P99Ms, double P999Ms, double MaxMs,
    double ServerCpuUsPerDelivery, double SharedCpuUsPerDelivery, double MemoryPerConnectionBytes, string LoadAverage,
    FaultResult? Fault)
{
    /// <summary>Lost deliveries as a fraction of those expected.</summary>
    public double LossRatio => Expected > 0 ? (double)Lost / Expected : 0;

    /// <summary>p99 under 100 ms and loss under 0.1 %.</summary>
    public bool Sustainable => Sent > 0 && P99Ms < 100 && LossRatio < 0.001 && Disconnected == 0;
}

/// <summary>What the fault round saw.</summary>
/// <param name="Frozen">What was frozen.</param>
/// <param name="FrozenAtSeconds">When, in seconds after the first send.</param>
/// <param name="PausedSeconds">For how long.</param>
/// <param name="RecoveredAfterMs">From the thaw until the last delivery slower than 100 ms (0: none was).</param>
/// <param name="DeliveriesPer100Ms">Deliveries received in each 100 ms from the first send (the chart).</param>
public sealed record FaultResult(string Frozen, double FrozenAtSeconds, double PausedSeconds, double RecoveredAfterMs, long[] DeliveriesPer100Ms);

/// <summary>Runs one round: the load client against one system, with the process figures around it.</summary>
public static class Round
{
    private static readonly long SlowTicks = Stopwatch.Frequency / 10; // 100 ms

    /// <summary>Runs the round; <paramref name="pause"/> freezes the system's shared part for that long mid-run.</summary>
    public static async Task<RoundResult> RunAsync(IAnsiConsole console, SystemUnderTest system, CompareOptions options, double rate,
        TimeSpan duration, TimeSpan? pause, CancellationToken cancellationToken)
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(1).Ticks / 10, 3); // microseconds, 3 significant digits
        var gate = new object();
        var buckets = new long[(int)((duration.TotalSeconds + options.Settle.TotalSeconds + 10) * 10) + 1];
        long sendStart = 0, thawedAt = 0, lastSlow = 0, serverRssBefore = 0, serverRssAfter = 0;
        TimeSpan serverCpu0 = default, serverCpu1 = default, sharedCpu0 = default, sharedCpu1 = default;
        Task fault = Task.CompletedTask;
        using var stopFault = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var servers = system.ServerPids;

        void OnPhase(string phase)
        {
            switch (phase)
            {
                case "connecting":
                    serverRssBefore = ProcessProbe.ResidentBytes(servers);
                    break;
                case "sending":
                    serverRssAfter = ProcessProbe.ResidentBytes(servers);
                    Volatile.Write(ref sendStart, Stopwatch.GetTimestamp());
                    serverCpu0 = ProcessProbe.CpuTime(servers);
                    sharedCpu0 = ProcessProbe.CpuTime(system.SharedPids);
                    if (pause is { } p) fault = FreezeAsync(system.FaultPid, duration * 0.4, p, t => Volatile.Write(ref thawedAt, t), stopFault.Token);
                    break;
                case "closing":
                    serverCpu1 = ProcessProbe.CpuTime(servers);
                    sharedCpu1 = ProcessProbe.CpuTime(system.SharedPids);
                    break;
            }
        }

        void OnDelivery(long sent, long received)
        {
            var micros = Math.Max(1, (received - sent) * 1_000_000 / Stopwatch.Frequency);
            lock (gate)
            {
                histogram.RecordValue(Math.Min(micros, histogram.HighestTrackableValue));
                var start = Volatile.Read(ref sendStart);
                if (start != 0)
                {
                    var bucket = (int)((received - start) * 10 / Stopwatch.Frequency);
                    if (bucket >= 0 && bucket < buckets.Length) buckets[bucket]++;
                }
                if (received - sent > SlowTicks && received > lastSlow) lastSlow = received;
            }
        }

        var load = new LoadOptions
        {
            Servers = system.Urls,
            Clients = options.Clients,
            Rooms = options.Rooms,
            Rate = rate,
            Duration = duration,
            Settle = options.Settle,
            Dialect = system.Dialect,
            OnPhase = OnPhase,
            OnDelivery = OnDelivery,
        };
        var loadAverage = ProcessProbe.LoadAverage();
        LoadReport report;
        try
        {
            report = await LoadCommand.RunWithProgressAsync(console, load, cancellationToken);
        }
        finally
        {
            await stopFault.CancelAsync();
            await fault; // thaws whatever it froze
        }

        var delivered = Math.Max(1, report.Delivered);
        FaultResult? faultResult = null;
        if (pause is { } paused)
        {
            var thawed = Volatile.Read(ref thawedAt);
            var recovered = lastSlow > thawed && thawed != 0 ? Stopwatch.GetElapsedTime(thawed, lastSlow).TotalMilliseconds : 0;
            var last = Array.FindLastIndex(buckets, b => b > 0);
            faultResult = new FaultResult(system.SharedPids.Count > 0 ? system.SharedName : "cluster node b", duration.TotalSeconds * 0.4,
                paused.TotalSeconds, Math.Round(recovered, 1), buckets[..Math.Max(1, last + 1)]);
        }
        double Ms(double percentile) => Math.Round(histogram.GetValueAtPercentile(percentile) / 1000.0, 2);
        return new RoundResult(system.Name, pause is null ? "sweep" : "fault", rate, options.Clients, options.Rooms, duration.TotalSeconds,
            report.Sent, report.Expected, report.Delivered, report.Lost, report.Duplicates, report.Errors, report.Disconnected,
            Ms(50), Ms(99), Ms(99.9), Math.Round(histogram.GetMaxValue() / 1000.0, 2),
            Math.Round((serverCpu1 - serverCpu0).TotalMicroseconds / delivered, 2),
            Math.Round((sharedCpu1 - sharedCpu0).TotalMicroseconds / delivered, 2),
            Math.Round(Math.Max(0, serverRssAfter - serverRssBefore) / (double)options.Clients),
            loadAverage, faultResult);
    }

    // Freezes pid after `after`, thaws it `pause` later (also when cancelled); reports the thaw's timestamp.
    private static async Task FreezeAsync(int pid, TimeSpan after, TimeSpan pause, Action<long> thawed, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(after, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        ProcessProbe.Freeze(pid);
        try
        {
            await Task.Delay(pause, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            ProcessProbe.Thaw(pid);
            thawed(Stopwatch.GetTimestamp());
        }
    }
}
