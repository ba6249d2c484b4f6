using System.Globalization;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>The measurements of one round: figure name → value.</summary>
internal sealed class RoundFigures : Dictionary<string, double>
{
}

/// <summary>Figure name → the value of each round; a figure never measured is an empty list.</summary>
internal sealed class Series : Dictionary<string, List<double>>
{
    public new List<double> this[string name] => TryGetValue(name, out var values) ? values : [];
}

/// <summary>What every scenario gets: the options, where to report progress, and the round runner.</summary>
internal sealed class BenchContext(BenchOptions options, TextWriter output, CancellationToken cancellation)
{
    public BenchOptions Options { get; } = options;

    public TextWriter Output { get; } = output;

    public CancellationToken Cancellation { get; } = cancellation;

    public bool Quick => Options.Quick;

    public string Host => Options.Host;

    public int Rounds => Options.EffectiveRounds;

    public int Warmup => Options.EffectiveWarmup;

    /// <summary>No round may take longer than this (then the scenario fails, and the run goes on).</summary>
    public TimeSpan RoundTimeout => Quick ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(120);

    public void Progress(string text) => Output.WriteLine("  " + text);

    /// <summary>
    /// Runs the warm-up rounds, then the measured rounds of ours and of the baseline, alternating
    /// which goes first so a drift of the machine's load hits both alike.
    /// </summary>
    public async Task<(Series Ours, Series Baseline)> InterleaveAsync(
        string what, Func<Task<RoundFigures>> ours, Func<Task<RoundFigures>> baseline)
    {
        var oursFigures = new Series();
        var baselineFigures = new Series();
        var none = () => Task.FromResult(new RoundFigures());
        if (Options.Side == "ours") baseline = none;
        if (Options.Side == "raw") ours = none;
        for (int w = 0; w < Warmup; w++)
        {
            Cancellation.ThrowIfCancellationRequested();
            await ours();
            await baseline();
        }
        for (int r = 0; r < Rounds; r++)
        {
            Cancellation.ThrowIfCancellationRequested();
            RoundFigures o, b;
            if (r % 2 == 0)
            {
                o = await ours();
                b = await baseline();
            }
            else
            {
                b = await baseline();
                o = await ours();
            }
            Add(oursFigures, o);
            Add(baselineFigures, b);
            Progress($"{what} round {r + 1}/{Rounds}: ours {Describe(o)} | raw {Describe(b)}");
        }
        return (oursFigures, baselineFigures);
    }

    /// <summary>Warm-up then measured rounds of one side only.</summary>
    public async Task<Series> RepeatAsync(string what, int rounds, int warmup, Func<Task<RoundFigures>> round)
    {
        var figures = new Series();
        for (int w = 0; w < warmup; w++)
        {
            Cancellation.ThrowIfCancellationRequested();
            await round();
        }
        for (int r = 0; r < rounds; r++)
        {
            Cancellation.ThrowIfCancellationRequested();
            var f = await round();
            Add(figures, f);
            Progress($"{what} round {r + 1}/{rounds}: {Describe(f)}");
        }
        return figures;
    }

    private static void Add(Series into, RoundFigures figures)
    {
        foreach (var (name, value) in figures)
        {
            if (!into.TryGetValue(name, out var list)) into.Add(name, list = []);
            list.Add(value);
        }
    }

    private static string Describe(RoundFigures figures) =>
        string.Join(", ", figures.Select(f => $"{f.Key} {BenchmarkReport.Format(f.Value)}"));

    public static string Count(int n) => n.ToString("#,0", CultureInfo.InvariantCulture);
}
