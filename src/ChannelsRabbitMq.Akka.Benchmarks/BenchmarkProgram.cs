using System.Diagnostics;
using ChannelsRabbitMq.Akka.Benchmarks.Scenarios;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>
/// The benchmark program: scenarios 1-6 of the performance issue, each end-to-end scenario
/// beside a baseline written directly on RabbitMQ.Client doing the same AMQP work in the same run.
/// </summary>
public static class BenchmarkProgram
{
    /// <summary>The console entry point: 0 when every scenario finished, 1 when one failed, 2 for bad arguments.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            await Console.Error.WriteLineAsync(BenchOptions.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        var report = await RunAsync(options, Console.Out, cancel.Token);
        return report.Completed ? 0 : 1;
    }

    /// <summary>Runs the benchmark with command-line <paramref name="args"/>, writing progress and the table to <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">Bad arguments.</exception>
    public static Task<BenchmarkReport> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default) =>
        RunAsync(BenchOptions.Parse(args), output, cancellationToken);

    /// <summary>Runs the benchmark; a scenario that fails is reported (with its error) and the others still run.</summary>
    public static async Task<BenchmarkReport> RunAsync(BenchOptions options, TextWriter output, CancellationToken cancellationToken = default)
    {
        var report = new BenchmarkReport
        {
            Mode = options.Micro ? "micro" : options.Quick ? "quick" : "full",
            Host = AmqpUris.Redact(options.Host),
            LoadAverageBefore = Timing.LoadAverage(),
            Rounds = options.EffectiveRounds,
            WarmupRounds = options.EffectiveWarmup,
            MessageBytes = WireCodec.Encode(BenchMessages.Create(12_345), Names.NewChannelName(Names.NewQueueName(), "bench"), null, 1 << 24).Length,
        };
        BenchLog.Echo = options.Verbose;
        var context = new BenchContext(options, output, cancellationToken);
        var total = Stopwatch.StartNew();
        output.WriteLine($"ChannelsRabbitMq.Akka benchmarks ({report.Mode}, {report.Configuration}) against {report.Host}; " +
                         $"{report.Machine}; load average {report.LoadAverageBefore}; message body {report.MessageBytes} bytes");
#if DEBUG
        output.WriteLine("  note: a Debug build; run with -c Release for figures worth quoting");
#endif

        var scenarios = new (int Id, string Title, Func<BenchContext, ScenarioResult, Task> Run)[]
        {
            (1, "point-to-point, one layer", (c, r) => PointToPoint.RunAsync(c, r, twoLayers: false)),
            (2, "point-to-point, two layers", (c, r) => PointToPoint.RunAsync(c, r, twoLayers: true)),
            (3, "fan-out, one group of 100 members", FanOut.RunAsync),
            (4, "latency at 1,000 msgs/s", Latency.RunAsync),
            (5, "scale: channels, subscriptions, groups", Scale.RunAsync),
            (6, "micro: encode and decode", Micro.RunAsync),
        };
        foreach (var (id, title, run) in scenarios)
        {
            if (!options.Scenarios.Contains(id)) continue;
            cancellationToken.ThrowIfCancellationRequested();
            var result = new ScenarioResult { Id = id.ToString(System.Globalization.CultureInfo.InvariantCulture), Title = title };
            report.Scenarios.Add(result);
            output.WriteLine($"[{id}] {title}");
            var watch = Stopwatch.StartNew();
            BenchLog.Drain(new ScenarioResult { Id = "", Title = "" }); // forget what came before
            using var profiler = options.AllocationProfile ? new AllocationProfiler() : null;
            profiler?.Start();
            try
            {
                await run(context, result);
                profiler?.Stop();
                profiler?.Report(output);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                result.Error = "cancelled";
                throw;
            }
            catch (Exception e)
            {
                result.Error = $"{e.GetType().Name}: {e.Message}";
                output.WriteLine($"  FAILED: {e}");
            }
            finally
            {
                result.Seconds = watch.Elapsed.TotalSeconds;
                BenchLog.Drain(result);
                output.WriteLine($"  ({result.Seconds:0.0} s{(result.LayerLogCount > 0 ? $"; the layer logged {result.LayerLogCount} warning(s)" : "")})");
            }
        }

        report.Seconds = total.Elapsed.TotalSeconds;
        report.LoadAverageAfter = Timing.LoadAverage();
        output.WriteLine();
        output.WriteLine($"Results ({report.Mode}; median of {report.Rounds} rounds after {report.WarmupRounds} warm-up; ± is half the range; " +
                         $"load average {report.LoadAverageBefore} before, {report.LoadAverageAfter} after; {report.Seconds:0} s)");
        output.Write(report.ToTable());
        foreach (var scenario in report.Scenarios)
        {
            foreach (var note in scenario.Metrics.Where(m => m.Note is not null).GroupBy(m => m.Note))
                output.WriteLine(note.Count() == 1
                    ? $"  {scenario.Id} {note.First().Name}: {note.Key}"
                    : $"  {scenario.Id} {string.Join("; ", note.Select(m => m.Name))}: {note.Key}");
            if (scenario.LayerLogCount > 0)
                output.WriteLine($"  {scenario.Id}: the layer logged {scenario.LayerLogCount} warning(s), e.g. {scenario.LayerLog.FirstOrDefault()}");
        }

        if (options.JsonPath is { } path)
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null) Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(path, report.ToJson(), cancellationToken);
            output.WriteLine($"JSON written to {path}");
        }
        return report;
    }
}
