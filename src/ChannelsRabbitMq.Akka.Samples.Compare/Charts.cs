using ScottPlot;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>The two charts: latency against rate (the sweep), deliveries over time (the fault round).</summary>
public static class Charts
{
    /// <summary>Writes <c>compare-latency.png</c> and <c>compare-fault.png</c> into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(CompareProgram.Run run, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var palette = new[] { Colors.C0, Colors.C1, Colors.C2, Colors.C3 };
        // One color per system in both charts.
        Color ColorOf(string system) => palette[Math.Max(0, run.Systems.ToList().FindIndex(s => s.System == system)) % palette.Length];
        var note = $"{run.Options.Clients} clients, {run.Options.Rooms} rooms, 2 servers; load average {run.LoadAverageBefore}";

        var latency = new Plot();
        foreach (var system in run.Systems)
        {
            var rounds = run.Rounds.Where(r => r.System == system.System && r.Kind == "sweep").OrderBy(r => r.Rate).ToArray();
            if (rounds.Length == 0) continue;
            var xs = rounds.Select(r => r.Rate).ToArray();
            var p99 = latency.Add.Scatter(xs, rounds.Select(r => Math.Log10(Math.Max(0.1, r.P99Ms))).ToArray(), ColorOf(system.System));
            p99.LegendText = $"{system.Description}: p99";
            var p50 = latency.Add.Scatter(xs, rounds.Select(r => Math.Log10(Math.Max(0.1, r.P50Ms))).ToArray(), ColorOf(system.System));
            p50.LegendText = $"{system.Description}: p50";
            p50.LinePattern = LinePattern.Dashed;
        }
        var limit = latency.Add.HorizontalLine(2, 1, Colors.Gray, LinePattern.Dotted);
        limit.LegendText = "100 ms";
        latency.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = y => $"{Math.Pow(10, y):0.#}",
            IntegerTicksOnly = true,
        };
        latency.Title($"Delivery latency against send rate ({note})");
        latency.XLabel("messages/s sent (all clients together)");
        latency.YLabel("latency, ms (log scale)");
        latency.ShowLegend(Alignment.LowerRight);
        written.Add(Save(latency, Path.Combine(directory, "compare-latency.png")));

        var fault = new Plot();
        double top = 0;
        foreach (var round in run.Rounds.Where(r => r.Fault is not null))
        {
            var buckets = round.Fault!.DeliveriesPer100Ms;
            var line = fault.Add.Scatter(buckets.Select((_, b) => b / 10.0).ToArray(), buckets.Select(b => b * 10.0).ToArray(), ColorOf(round.System));
            top = Math.Max(top, round.Expected / round.DurationSeconds);
            line.MarkerSize = 0;
            line.LegendText = $"{run.Systems.First(s => s.System == round.System).Description}: {round.Lost} lost, recovered {round.Fault.RecoveredAfterMs:0} ms after the thaw";
        }
        if (run.Rounds.FirstOrDefault(r => r.Fault is not null) is { Fault: { } f })
        {
            var span = fault.Add.HorizontalSpan(f.FrozenAtSeconds, f.FrozenAtSeconds + f.PausedSeconds, Colors.Red.WithAlpha(0.15));
            span.LegendText = "shared part frozen (RabbitMQ / Redis / one node)";
        }
        // The burst after the thaw goes off the top: the chart is about the gap and the loss.
        if (top > 0) fault.Axes.SetLimitsY(0, top * 4);
        fault.Title($"Fault round: deliveries/s at {run.Options.FaultRate:0} msg/s ({note})");
        fault.XLabel("seconds since the first send");
        fault.YLabel("deliveries/s (100 ms buckets)");
        fault.ShowLegend(Alignment.UpperRight);
        written.Add(Save(fault, Path.Combine(directory, "compare-fault.png")));
        return written;
    }

    private static string Save(Plot plot, string path)
    {
        plot.SavePng(path, 1000, 560);
        return path;
    }
}
