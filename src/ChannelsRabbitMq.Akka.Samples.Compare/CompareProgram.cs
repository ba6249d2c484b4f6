using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>The whole comparison: start the servers, sweep, fault round, table, JSON, charts.</summary>
public static class CompareProgram
{
    /// <summary>The JSON document written at the end.</summary>
    public sealed record Run(string StartedUtc, string Command, int Cores, string LoadAverageBefore, string LoadAverageAfter,
        CompareOptionsSummary Options, IReadOnlyList<SystemSummary> Systems, IReadOnlyList<RoundResult> Rounds);

    /// <summary>The options, as the JSON shows them.</summary>
    public sealed record CompareOptionsSummary(bool Quick, int Clients, int Rooms, IReadOnlyList<double> Rates, double DurationSeconds,
        double SettleSeconds, double FaultRate, double FaultDurationSeconds, double PauseSeconds, int? RemoteCapacity,
        double WarmupSeconds = 0, IReadOnlyDictionary<string, string>? ServerEnvironment = null);

    /// <summary>One system's verdict.</summary>
    public sealed record SystemSummary(string System, string Description, string Shared, double? SustainableRate);

    /// <summary>Runs with <paramref name="args"/>; 0 when every round ran and delivered something, 1 otherwise, 2 for bad arguments.</summary>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole? console = null, CancellationToken cancellationToken = default)
    {
        console ??= AnsiConsole.Console;
        // `--replot RUN.json [--charts DIR]`: the charts of an earlier run, nothing else.
        if (args is ["--replot", var saved, ..] && args.Length is 2 or 4)
        {
            var earlier = JsonSerializer.Deserialize<Run>(await File.ReadAllTextAsync(saved, cancellationToken), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
            foreach (var chart in Charts.Write(earlier, args.Length == 4 && args[2] == "--charts" ? args[3] : Path.Combine("docs", "images")))
                console.MarkupLineInterpolated($"Chart: {chart}");
            return 0;
        }
        if (Console.IsOutputRedirected) console.Profile.Width = Math.Max(console.Profile.Width, 200);
        if (args is ["--help"] or ["-h"])
        {
            console.WriteLine(CompareOptions.Usage);
            return 0;
        }
        CompareOptions options;
        try
        {
            options = CompareOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            console.WriteLine(CompareOptions.Usage);
            return 2;
        }
        if (options.BrokerCost)
        {
            var path = options.JsonPath ?? Path.Combine(options.Root, "artifacts", "compare", "broker-cost.json");
            return await BrokerCost.RunAsync(console, options.RabbitUrl, options.RabbitPid, options.CostMessages, options.CostRate, options.CostRounds,
                path, "compare " + string.Join(' ', args), cancellationToken);
        }
        var started = DateTime.UtcNow;
        var loadBefore = ProcessProbe.LoadAverage();
        var artifacts = Path.Combine(options.Root, "artifacts", "compare");
        var logs = Path.Combine(artifacts, "logs");
        Directory.CreateDirectory(logs);
        var systems = SystemUnderTest.Define(options).ToList();
        var rounds = new List<RoundResult>();
        try
        {
            console.MarkupLineInterpolated($"[bold]Starting {systems.Count * 2} servers[/] (logs: {logs}); load average {loadBefore}");
            await Task.WhenAll(systems.Select(s => s.StartAsync(options, logs, cancellationToken)));

            // Warm-up: a round per system at the first rate (the JIT above all, connections, pools), not recorded.
            if (options.Warmup > TimeSpan.Zero)
            {
                foreach (var system in systems)
                {
                    console.Write(new Rule($"[bold]{system}[/]: warm-up").LeftJustified());
                    await Round.RunAsync(console, system, options, options.Rates[0], options.Warmup, null, cancellationToken);
                }
            }

            // The sweep: every rate, the systems in a rotated order; a system leaves the sweep after two unsustainable rates in a row.
            var failed = new HashSet<string>();
            var failures = new Dictionary<string, int>();
            for (var r = 0; r < options.Rates.Count; r++)
            {
                foreach (var system in Rotate(systems, r).Where(s => !failed.Contains(s.Name)))
                {
                    console.Write(new Rule($"[bold]{system}[/] at {options.Rates[r]:0.#} msg/s").LeftJustified());
                    var result = await Round.RunAsync(console, system, options, options.Rates[r], options.Duration, null, cancellationToken);
                    rounds.Add(result);
                    console.MarkupLine("  " + Line(result));
                    failures[system.Name] = result.Sustainable ? 0 : failures.GetValueOrDefault(system.Name) + 1;
                    if (failures[system.Name] == 2) failed.Add(system.Name);
                }
            }
            if (options.Fault)
            {
                foreach (var system in Rotate(systems, options.Rates.Count))
                {
                    console.Write(new Rule($"[bold]{system}[/]: fault round at {options.FaultRate:0.#} msg/s, {system.SharedName} frozen for {options.Pause.TotalSeconds:0.#} s").LeftJustified());
                    var result = await Round.RunAsync(console, system, options, options.FaultRate, options.FaultDuration, options.Pause, cancellationToken);
                    rounds.Add(result);
                    console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {Line(result)}; recovered {result.Fault!.RecoveredAfterMs:0} ms after the thaw"));
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or FileNotFoundException
                                      or System.Net.WebSockets.WebSocketException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
        finally
        {
            await Task.WhenAll(systems.Select(s => s.DisposeAsync().AsTask()));
        }

        var summaries = systems.Select(s => new SystemSummary(s.Name, s.Description, s.SharedName,
            rounds.Where(x => x.System == s.Name && x.Kind == "sweep" && x.Sustainable).Select(x => (double?)x.Rate).Max())).ToList();
        var run = new Run(started.ToString("O", CultureInfo.InvariantCulture), "compare " + string.Join(' ', args), Environment.ProcessorCount,
            loadBefore, ProcessProbe.LoadAverage(),
            new CompareOptionsSummary(options.Quick, options.Clients, options.Rooms, options.Rates, options.Duration.TotalSeconds,
                options.Settle.TotalSeconds, options.FaultRate, options.FaultDuration.TotalSeconds, options.Pause.TotalSeconds, options.RemoteCapacity,
                options.Warmup.TotalSeconds, options.ServerEnvironment),
            summaries, rounds);

        console.Write(Table(run));
        var json = options.JsonPath ?? Path.Combine(artifacts, "compare.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(run, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }), cancellationToken);
        var charts = options.ChartsDirectory ?? (options.Quick ? artifacts : Path.Combine(options.Root, "docs", "images"));
        var written = Charts.Write(run, charts);
        console.MarkupLineInterpolated($"JSON: {json}");
        foreach (var chart in written) console.MarkupLineInterpolated($"Chart: {chart}");
        console.MarkupLineInterpolated($"Load average before / after: {run.LoadAverageBefore} / {run.LoadAverageAfter}");
        return rounds.Count > 0 && rounds.All(x => x.Delivered > 0) ? 0 : 1;
    }

    private static IEnumerable<T> Rotate<T>(IReadOnlyList<T> items, int by) => items.Skip(by % items.Count).Concat(items.Take(by % items.Count));

    private static string Line(RoundResult r) => string.Create(CultureInfo.InvariantCulture,
        $"delivered {r.Delivered}/{r.Expected}, lost {r.Lost}, duplicates {r.Duplicates}, p50/p99/p99.9 {r.P50Ms:0.0}/{r.P99Ms:0.0}/{r.P999Ms:0.0} ms, {(r.Sustainable ? "sustainable" : "[red]not sustainable[/]")}");

    /// <summary>The closing table.</summary>
    public static Table Table(Run run)
    {
        var table = new Table().Title($"[bold]Against the alternatives[/] ({run.Options.Clients} clients, {run.Options.Rooms} rooms, 2 servers each; load average {run.LoadAverageBefore} → {run.LoadAverageAfter})");
        foreach (var column in new[] { "system", "round", "msg/s", "delivered", "lost", "dup", "p50 ms", "p99 ms", "p99.9 ms", "server CPU µs/dlv", "shared CPU µs/dlv", "memory/conn", "recovery", "ok" })
            table.AddColumn(new TableColumn(column).RightAligned());
        string N(double v, string f = "0") => v.ToString(f, CultureInfo.InvariantCulture);
        foreach (var r in run.Rounds)
        {
            table.AddRow(r.System, r.Kind, N(r.Rate), N(r.Delivered), r.Lost == 0 ? "0" : $"[red]{r.Lost}[/]", N(r.Duplicates),
                N(r.P50Ms, "0.0"), N(r.P99Ms, "0.0"), N(r.P999Ms, "0.0"), N(r.ServerCpuUsPerDelivery, "0.0"), N(r.SharedCpuUsPerDelivery, "0.0"),
                $"{N(r.MemoryPerConnectionBytes / 1024, "0.0")} KB", r.Fault is { } f ? $"{N(f.RecoveredAfterMs)} ms" : "",
                r.Kind == "fault" ? "" : r.Sustainable ? "[green]yes[/]" : "[red]no[/]");
        }
        foreach (var s in run.Systems)
            table.AddRow(s.System, "[bold]sustainable[/]", s.SustainableRate is { } rate ? $"[bold]{N(rate)}[/]" : "[red]none[/]", "", "", "", "", "", "", "", "", "", "", "");
        return table;
    }
}
