using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>The figures of one series of rounds: every round's value, the median and the spread.</summary>
public sealed class Stats
{
    public Stats(IEnumerable<double> rounds)
    {
        Rounds = rounds.ToArray();
        if (Rounds.Length == 0) throw new ArgumentException("No rounds.", nameof(rounds));
        var sorted = Rounds.Order().ToArray();
        Median = sorted.Length % 2 == 1
            ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        Min = sorted[0];
        Max = sorted[^1];
    }

    /// <summary>Each measured round, in the order they ran (warm-up rounds excluded).</summary>
    public double[] Rounds { get; }

    public double Median { get; }

    public double Min { get; }

    public double Max { get; }

    /// <summary>Half the range (max - min) as a percentage of the median.</summary>
    public double SpreadPercent => Median == 0 ? 0 : (Max - Min) / 2 / Math.Abs(Median) * 100;
}

/// <summary>One figure of a scenario, ours beside the raw client's.</summary>
public sealed class MetricResult
{
    public required string Name { get; init; }

    public required string Unit { get; init; }

    /// <summary>True when a bigger value is better (throughput), false for times, latencies, bytes.</summary>
    public bool HigherIsBetter { get; init; }

    /// <summary>The channel layer's figures; null when only the baseline has this figure.</summary>
    public Stats? Ours { get; init; }

    /// <summary>The raw RabbitMQ.Client figures of the same work in the same run; null when there is none.</summary>
    public Stats? Baseline { get; init; }

    /// <summary>Median of ours / median of the baseline.</summary>
    public double? Ratio => Ours is { } o && Baseline is { } b && b.Median != 0 ? o.Median / b.Median : null;

    /// <summary>The issue's target for this figure, in words; null when there is none.</summary>
    public string? Target { get; set; }

    /// <summary>Whether the target is met; null when there is no target.</summary>
    public bool? Met { get; set; }

    public string? Note { get; set; }
}

/// <summary>One scenario of the run.</summary>
public sealed class ScenarioResult
{
    public required string Id { get; init; }

    public required string Title { get; init; }

    /// <summary>What was measured and how (sizes, rounds).</summary>
    public string? Setup { get; set; }

    public List<MetricResult> Metrics { get; } = [];

    /// <summary>Why the scenario did not finish; null when it did.</summary>
    public string? Error { get; set; }

    public double Seconds { get; set; }

    /// <summary>Warnings and errors the layer logged during the scenario (the first few).</summary>
    public List<string> LayerLog { get; } = [];

    public int LayerLogCount { get; set; }

    public MetricResult Add(string name, string unit, bool higherIsBetter, IEnumerable<double>? ours, IEnumerable<double>? baseline)
    {
        var oursList = ours?.ToArray();
        var baselineList = baseline?.ToArray();
        var metric = new MetricResult
        {
            Name = name,
            Unit = unit,
            HigherIsBetter = higherIsBetter,
            Ours = oursList is { Length: > 0 } ? new Stats(oursList) : null,
            Baseline = baselineList is { Length: > 0 } ? new Stats(baselineList) : null,
        };
        Metrics.Add(metric);
        return metric;
    }
}

/// <summary>Everything one run measured, with the conditions it ran under.</summary>
public sealed class BenchmarkReport
{
    public required string Mode { get; init; }

    public required string Host { get; init; }

    public DateTimeOffset StartedUtc { get; init; } = DateTimeOffset.UtcNow;

    public double Seconds { get; set; }

    public string Machine { get; init; } = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";

    public string Runtime { get; init; } = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

    public string Configuration { get; init; } =
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    public string? LoadAverageBefore { get; init; }

    public string? LoadAverageAfter { get; set; }

    public int Rounds { get; init; }

    public int WarmupRounds { get; init; }

    /// <summary>Body size in bytes of the benchmark message (scenario 1's channel).</summary>
    public int MessageBytes { get; set; }

    public List<ScenarioResult> Scenarios { get; } = [];

    /// <summary>True when every scenario finished.</summary>
    public bool Completed => Scenarios.All(s => s.Error is null);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The report as a fixed-width text table.</summary>
    public string ToTable()
    {
        var rows = new List<string[]>
        {
            new[] { "#", "metric", "ours (median)", "±", "raw client (median)", "±", "ours/raw", "target", "met" },
        };
        foreach (var scenario in Scenarios)
        {
            if (scenario.Error is not null)
                rows.Add([scenario.Id, "FAILED: " + Shorten(scenario.Error, 70), "", "", "", "", "", "", ""]);
            foreach (var m in scenario.Metrics)
            {
                rows.Add([
                    scenario.Id,
                    $"{m.Name} [{m.Unit}]",
                    m.Ours is { } o ? Format(o.Median) : "-",
                    m.Ours is { } o2 && o2.Rounds.Length > 1 ? $"{o2.SpreadPercent:0.#}%" : "",
                    m.Baseline is { } b ? Format(b.Median) : "-",
                    m.Baseline is { } b2 && b2.Rounds.Length > 1 ? $"{b2.SpreadPercent:0.#}%" : "",
                    m.Ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "",
                    m.Target ?? "",
                    m.Met switch { true => "yes", false => "NO", null => "" },
                ]);
            }
        }
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
            for (int i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
        var text = new StringBuilder();
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            for (int i = 0; i < row.Length; i++)
            {
                bool numeric = i is 2 or 3 or 4 or 5 or 6;
                text.Append(numeric ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
                if (i < row.Length - 1) text.Append("  ");
            }
            text.AppendLine();
            if (r == 0) text.AppendLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        }
        return text.ToString();
    }

    /// <summary>Three significant digits at least, with thousands separators for big numbers.</summary>
    public static string Format(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return value.ToString(CultureInfo.InvariantCulture);
        var abs = Math.Abs(value);
        string format = abs >= 1000 ? "#,0" : abs >= 100 ? "0.0" : abs >= 10 ? "0.00" : abs >= 1 ? "0.000" : "0.0000";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    private static string Shorten(string text, int max)
    {
        text = text.ReplaceLineEndings(" ");
        return text.Length <= max ? text : text[..max] + "…";
    }
}
