using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Load;

/// <summary>
/// <c>load --server URL [--server URL …] [--clients N] [--rooms M] [--rate R] [--duration S]</c>:
/// runs <see cref="LoadRunner"/> with a live progress line and a closing summary table.
/// Exit code 0 when every delivery arrived, 1 when some were lost (or errors), 2 for bad arguments.
/// </summary>
public static class LoadCommand
{
    /// <summary>The usage text.</summary>
    public const string Usage =
        "usage: load --server http://127.0.0.1:PORT [--server …] [--clients N] [--rooms M] [--rate MSG_PER_S] [--duration SECONDS] [--drain SECONDS] [--dialect chat|signalr] [--settle SECONDS]";

    /// <summary>Parses <paramref name="args"/>, runs the load test on the console, returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole? console = null, CancellationToken cancellationToken = default)
    {
        if (console is null)
        {
            console = AnsiConsole.Console;
            // Piped to a file or CI log: no wrapping at 80 columns.
            if (Console.IsOutputRedirected) console.Profile.Width = Math.Max(console.Profile.Width, 200);
        }
        LoadOptions options;
        try
        {
            options = Parse(args);
            options.Validate();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            console.WriteLine(Usage);
            return 2;
        }

        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // stop the run, still print what was counted
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            console.MarkupLineInterpolated(
                $"[bold]Load:[/] {options.Clients} websocket clients on {options.Servers.Count} servers ({string.Join(", ", options.Servers)}) in {options.Rooms} rooms, {options.Rate:0.#} messages/s for {options.Duration.TotalSeconds:0.#} s");
            var report = await RunWithProgressAsync(console, options, interrupt.Token);
            console.Write(Summary(report));
            if (report.Clean)
            {
                console.MarkupLine("[green]Every message reached every client of its room.[/]");
                return 0;
            }
            console.MarkupLineInterpolated(
                $"[yellow]{report.Lost} deliveries lost, {report.Duplicates} duplicated, {report.Errors} errors, {report.Disconnected} clients disconnected (the layer is at-most-once: overload drops, it never blocks).[/]");
            return 1;
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            console.MarkupLine("[yellow]Interrupted.[/]");
            return 130;
        }
        catch (Exception e) when (e is TimeoutException or System.Net.WebSockets.WebSocketException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Runs the test with a live progress line (a plain line per second when the output is not a terminal).</summary>
    public static async Task<LoadReport> RunWithProgressAsync(IAnsiConsole console, LoadOptions options, CancellationToken cancellationToken)
    {
        if (!console.Profile.Capabilities.Interactive || !console.Profile.Capabilities.Ansi)
        {
            return await LoadRunner.RunAsync(options, p => console.WriteLine(Line(p)), TimeSpan.FromSeconds(1), cancellationToken);
        }
        LoadReport? report = null;
        await console.Live(new Text("")).AutoClear(false).StartAsync(async live =>
        {
            report = await LoadRunner.RunAsync(options, p =>
            {
                live.UpdateTarget(new Markup(Markup.Escape(Line(p))));
                live.Refresh();
            }, TimeSpan.FromMilliseconds(250), cancellationToken);
        });
        return report!;
    }

    /// <summary>One progress line.</summary>
    public static string Line(LoadProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Elapsed.TotalSeconds,5:0.0}s {p.Phase,-10} clients {p.Connected}/{p.Clients}  sent {p.Sent}  delivered {p.Delivered}/{p.Expected}  in flight {p.Outstanding}  errors {p.Errors}  latency p50 {p.Latencies.P50:0.0} ms p99 {p.Latencies.P99:0.0} ms");

    /// <summary>The closing summary table.</summary>
    public static IRenderable Summary(LoadReport r)
    {
        var table = new Table().Title("[bold]Load summary[/]").AddColumn("").AddColumn(new TableColumn("").RightAligned()).HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), value);
        string N(double v, string format = "0") => v.ToString(format, CultureInfo.InvariantCulture);
        Row("clients / servers / rooms", $"{r.Clients} / {r.Servers} / {r.Rooms}");
        Row("send phase", $"{N(r.SendDuration.TotalSeconds, "0.0")} s at {N(r.Rate, "0.#")} msg/s requested");
        Row("messages sent", $"{r.Sent} ({N(r.SentPerSecond, "0.0")}/s)");
        Row("deliveries expected", $"{r.Expected}");
        Row("delivered", $"{r.Delivered} ({N(r.DeliveredPerSecond, "0.0")}/s)");
        Row("lost", r.Lost == 0 ? "[green]0[/]" : $"[red]{r.Lost}[/]");
        Row("duplicates", r.Duplicates == 0 ? "0" : $"[red]{r.Duplicates}[/]");
        Row("errors", r.Errors == 0 ? "0" : $"[red]{r.Errors}[/]");
        Row("disconnected clients", r.Disconnected == 0 ? "0" : $"[red]{r.Disconnected}[/]");
        Row("latency p50", $"{N(r.Latencies.P50, "0.0")} ms");
        Row("latency p90", $"{N(r.Latencies.P90, "0.0")} ms");
        Row("latency p99", $"{N(r.Latencies.P99, "0.0")} ms");
        Row("latency max", $"{N(r.Latencies.Max, "0.0")} ms");
        return table;
    }

    /// <summary>Parses the command line.</summary>
    /// <exception cref="ArgumentException">An unknown or incomplete option.</exception>
    public static LoadOptions Parse(string[] args)
    {
        var servers = new List<Uri>();
        var options = new LoadOptions { Servers = servers };
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            double Number() => double.Parse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture);
            int Count() => int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
            options = args[i] switch
            {
                "--server" => Add(options, new Uri(Value(), UriKind.Absolute)),
                "--clients" => options with { Clients = Count() },
                "--rooms" => options with { Rooms = Count() },
                "--rate" => options with { Rate = Number() },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Number()) },
                "--drain" => options with { DrainTimeout = TimeSpan.FromSeconds(Number()) },
                "--dialect" => options with { Dialect = Enum.TryParse<LoadDialect>(Value(), ignoreCase: true, out var d) && Enum.IsDefined(d) ? d : throw new ArgumentException("--dialect is chat or signalr.") },
                "--settle" => options with { Settle = TimeSpan.FromSeconds(Number()) },
                _ => throw new ArgumentException($"Unknown argument {args[i]}."),
            };
        }
        return options;

        LoadOptions Add(LoadOptions o, Uri server)
        {
            servers.Add(server);
            return o;
        }
    }
}
