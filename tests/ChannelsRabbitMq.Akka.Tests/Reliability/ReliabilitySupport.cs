using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using ChannelsRabbitMq.Akka.Tests.Integration;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>Bounded polling: the only way to wait for a broker-side state that raises no event.</summary>
internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every <paramref name="intervalMs"/> ms; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<bool> condition, TimeSpan timeout, string what, int intervalMs = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.");
            await Task.Delay(intervalMs);
        }
        return clock.Elapsed;
    }

    /// <summary>As <see cref="UntilAsync"/> but returns false instead of failing.</summary>
    public static async Task<bool> TryUntilAsync(Func<bool> condition, TimeSpan timeout, int intervalMs = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            await Task.Delay(intervalMs);
        }
        return true;
    }
}

/// <summary>Runs a program with a time limit and returns its exit code and output.</summary>
internal static class Shell
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s.");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>
/// rabbitmqctl on a node: the shared test node (<see cref="TestBroker.Ctl"/>) or a node of the
/// reliability cluster (<c>scripts/cluster.sh ctl N</c>).
/// </summary>
public sealed class NodeCtl
{
    private readonly Func<string[], string> _run;

    private NodeCtl(string name, Func<string[], string> run)
    {
        Name = name;
        _run = run;
    }

    public string Name { get; }

    /// <summary>The shared node every test class uses: only ever close connections you opened on it.</summary>
    public static NodeCtl Shared { get; } = new("shared", args => TestBroker.Ctl(args));

    /// <summary>Node 1 or 2 of the cluster that <c>scripts/cluster.sh</c> runs.</summary>
    public static NodeCtl Cluster(int node) => new($"cluster node {node}", args =>
    {
        var (code, stdout, stderr) = Shell.Run("bash",
            [Path.Combine(TestBroker.RepoRoot, "scripts", "cluster.sh"), "ctl", node.ToString(), .. args], TimeSpan.FromSeconds(90));
        if (code != 0)
            throw new InvalidOperationException($"cluster.sh ctl {node} {string.Join(' ', args)} failed ({code}): {stderr}{stdout}");
        return stdout;
    });

    public string Ctl(params string[] args) => _run(args);

    public Task<string> CtlAsync(params string[] args) => Task.Run(() => _run(args));

    /// <summary>
    /// Closes, from the broker's side, every connection whose client-provided name is
    /// <paramref name="connectionName"/>, in one rabbitmqctl call (the same function
    /// <c>rabbitmqctl close_connection</c> calls, after a lookup by name); returns how many.
    /// </summary>
    public int CloseConnectionsNamed(string connectionName, string reason = "closed by a reliability test")
    {
        var output = Ctl("eval", $$"""
            Name = <<"{{Erlang(connectionName)}}">>,
            Named = fun(P) ->
                try rabbit_networking:connection_info(P, [client_properties]) of
                    [{client_properties, CP}] when is_list(CP) ->
                        lists:keyfind(<<"connection_name">>, 1, CP) =:= {<<"connection_name">>, longstr, Name};
                    _ -> false
                catch _:_ -> false
                end
            end,
            Ps = [P || P <- rabbit_networking:connections(), Named(P)],
            [rabbit_networking:close_connection(P, "{{Erlang(reason)}}") || P <- Ps],
            length(Ps).
            """);
        return int.Parse(output.Trim());
    }

    /// <summary>The client-provided names of every open connection, with the node each is on.</summary>
    public IReadOnlyList<(string Name, string Node)> ConnectionNames()
    {
        // io:format inside eval prints to the CLI's standard output, one connection a line.
        var output = Ctl("eval", """
            Print = fun(P) ->
                try rabbit_networking:connection_info(P, [client_properties]) of
                    [{client_properties, CP}] when is_list(CP) ->
                        case lists:keyfind(<<"connection_name">>, 1, CP) of
                            {_, longstr, N} -> io:format("conn\t~s\t~s~n", [N, node(P)]);
                            _ -> ok
                        end;
                    _ -> ok
                catch _:_ -> ok
                end
            end,
            lists:foreach(Print, rabbit_networking:connections()),
            ok.
            """);
        return output.Split('\n')
            .Select(l => l.TrimEnd('\r').Split('\t'))
            .Where(p => p.Length == 3 && p[0] == "conn")
            .Select(p => (p[1], p[2]))
            .ToArray();
    }

    /// <summary>(queue, routing key) of every binding of <paramref name="exchange"/> in vhost asgi.</summary>
    public IReadOnlyList<(string Queue, string RoutingKey)> BindingsOf(string exchange)
    {
        var output = Ctl("list_bindings", "-p", "asgi", "source_name", "destination_name", "routing_key");
        var result = new List<(string, string)>();
        foreach (var line in output.Split('\n'))
        {
            var parts = line.TrimEnd('\r').Split('\t');
            if (parts.Length == 3 && parts[0] == exchange) result.Add((parts[1], parts[2]));
        }
        return result;
    }

    private static string Erlang(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");
}

/// <summary>One log event, complete: level, source, text, the cause's full <c>ToString()</c>, time.</summary>
public sealed record RecordedEvent(DateTime Timestamp, LogLevel Level, string Source, string Text, string? Cause)
{
    public string Everything => $"{Source} {Text} {Cause}";

    public override string ToString() => $"{Timestamp:HH:mm:ss.fff} [{Level}] {Source}: {Text}{(Cause is null ? "" : "\n    " + Cause)}";
}

/// <summary>
/// An actor system for a reliability test. Every log event (all levels, with its cause) is kept
/// with its timestamp and, optionally, written to the test's output.
/// </summary>
public sealed class ReliabilitySystem : IAsyncDisposable
{
    private static readonly Config Hocon = ConfigurationFactory.ParseString($$"""
        akka.loglevel = DEBUG
        akka.stdout-loglevel = OFF
        akka.loggers = ["{{typeof(SilentLogger).AssemblyQualifiedName}}"]
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        """);

    private readonly ConcurrentQueue<RecordedEvent> _events = new();

    public ReliabilitySystem(ITestOutputHelper? output, Func<RecordedEvent, bool>? echo = null)
    {
        System = ActorSystem.Create("rel" + Guid.NewGuid().ToString("N")[..12], Hocon);
        var recorder = System.ActorOf(Props.Create(() => new Recorder(_events, output, echo)), "reliability-log");
        System.EventStream.Subscribe(recorder, typeof(LogEvent));
    }

    public ActorSystem System { get; }

    public IReadOnlyList<RecordedEvent> Events => _events.ToArray();

    public IReadOnlyList<RecordedEvent> Warnings(string fragment) =>
        Events.Where(e => e.Level == LogLevel.WarningLevel && e.Text.Contains(fragment, StringComparison.Ordinal)).ToArray();

    /// <summary>Waits (bounded) until <paramref name="count"/> events match.</summary>
    public async Task<IReadOnlyList<RecordedEvent>> WaitForAsync(Func<RecordedEvent, bool> match, int count, TimeSpan timeout, string what)
    {
        IReadOnlyList<RecordedEvent> found = [];
        var ok = await Poll.TryUntilAsync(() => (found = Events.Where(match).ToArray()).Count >= count, timeout);
        if (!ok)
            Assert.Fail($"Expected {count} log event(s) {what} within {timeout.TotalSeconds} s; got {found.Count}. Log:\n  " +
                string.Join("\n  ", Events.TakeLast(60)));
        return found;
    }

    public Task<IReadOnlyList<RecordedEvent>> WaitForWarningsAsync(string fragment, int count, TimeSpan timeout) =>
        WaitForAsync(e => e.Level == LogLevel.WarningLevel && e.Text.Contains(fragment, StringComparison.Ordinal), count, timeout,
            $"at warning level containing \"{fragment}\"");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await System.Terminate().WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
            // The test that hung reports it.
        }
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(ConcurrentQueue<RecordedEvent> events, ITestOutputHelper? output, Func<RecordedEvent, bool>? echo)
        {
            Receive<LogEvent>(e =>
            {
                var recorded = new RecordedEvent(e.Timestamp, e.LogLevel(), e.LogSource ?? "", e.Message?.ToString() ?? "", e.Cause?.ToString());
                events.Enqueue(recorded);
                if (output is null || (echo is not null && !echo(recorded))) return;
                try
                {
                    output.WriteLine(recorded.ToString());
                }
                catch (InvalidOperationException)
                {
                    // The test has finished.
                }
            });
        }
    }
}

/// <summary>Figures of a reliability test: to the test output, and appended to a file when asked.</summary>
internal static class Figures
{
    /// <summary>Set to a file path to collect every test's figures (scripts/soak.sh does).</summary>
    public const string ReportVariable = "CHANNELS_RABBITMQ_RELIABILITY_REPORT";

    private static readonly object FileLock = new();

    public static void Report(ITestOutputHelper output, string test, string text)
    {
        var block = $"== {test} ({DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z)\n{text.TrimEnd()}\n";
        try
        {
            output.WriteLine(block);
        }
        catch (InvalidOperationException)
        {
            // finished
        }
        if (Environment.GetEnvironmentVariable(ReportVariable) is { Length: > 0 } path)
        {
            lock (FileLock) File.AppendAllText(path, block + "\n");
        }
    }

    public static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0} ms";

    public static string Summary(IReadOnlyCollection<TimeSpan> values)
    {
        if (values.Count == 0) return "n/a";
        var sorted = values.OrderBy(v => v).ToArray();
        TimeSpan P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return $"min {Ms(sorted[0])}, median {Ms(P(0.5))}, p90 {Ms(P(0.9))}, max {Ms(sorted[^1])} (n={sorted.Length})";
    }
}

/// <summary>The message shape of the reliability tests: a type and a unique id.</summary>
internal static class Tagged
{
    public static Dictionary<string, object?> Message(string id, string kind = "direct") =>
        new() { ["type"] = "reliability.message", ["id"] = id, ["kind"] = kind };

    public static string IdOf(IReadOnlyDictionary<string, object?> message) =>
        message.TryGetValue("id", out var id) && id is string s ? s : throw new InvalidOperationException("a message without an id");
}
