using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// The settings a conformance test asks of a layer, independent of the implementation. The
/// defaults are design.md's defaults; each implementation maps them onto its own options.
/// </summary>
public sealed record LayerSettings
{
    public static LayerSettings Default { get; } = new();

    public int LocalCapacity { get; init; } = 100;
    public int RemoteCapacity { get; init; } = 100;
    public TimeSpan Expiry { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>null</c> means <see cref="Expiry"/>.</summary>
    public TimeSpan? LocalExpiry { get; init; }

    public string GroupsExchange { get; init; } = "groups";

    /// <summary><c>null</c> means a random name.</summary>
    public string? QueueName { get; init; }
}

/// <summary>One log line of the layer, as published on Akka's event stream.</summary>
public sealed record LogLine(LogLevel Level, string Source, string Text)
{
    public override string ToString() => $"[{Level}] {Source}: {Text}";
}

/// <summary>
/// Records every log line of an actor system and lets a test await a line (an event, never a
/// sleep). One recorder per test: each test has its own actor system.
/// </summary>
public sealed class LogRecorder
{
    private readonly object _gate = new();
    private readonly List<LogLine> _lines = [];
    private readonly List<Waiter> _waiters = [];

    private sealed record Waiter(Func<LogLine, bool> Match, int Count, TaskCompletionSource<IReadOnlyList<LogLine>> Done);

    public IReadOnlyList<LogLine> Lines
    {
        get { lock (_gate) return _lines.ToArray(); }
    }

    public IReadOnlyList<string> Warnings => Lines.Where(l => l.Level == LogLevel.WarningLevel).Select(l => l.Text).ToArray();

    public void Record(LogLine line)
    {
        var ready = new List<(Waiter, IReadOnlyList<LogLine>)>();
        lock (_gate)
        {
            _lines.Add(line);
            foreach (var waiter in _waiters.ToArray())
            {
                var matches = _lines.Where(waiter.Match).ToArray();
                if (matches.Length < waiter.Count) continue;
                _waiters.Remove(waiter);
                ready.Add((waiter, matches));
            }
        }
        foreach (var (waiter, matches) in ready) waiter.Done.TrySetResult(matches);
    }

    /// <summary>Waits until <paramref name="count"/> lines match (counting lines logged before the call too).</summary>
    public async Task<IReadOnlyList<LogLine>> WaitForAsync(Func<LogLine, bool> match, int count, TimeSpan timeout, string what)
    {
        Waiter waiter;
        lock (_gate)
        {
            var matches = _lines.Where(match).ToArray();
            if (matches.Length >= count) return matches;
            waiter = new Waiter(match, count, new TaskCompletionSource<IReadOnlyList<LogLine>>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.Add(waiter);
        }
        try
        {
            return await waiter.Done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (_gate) _waiters.Remove(waiter);
            Assert.Fail($"Expected {count} log line(s) {what} within {timeout.TotalSeconds} s; the log has:\n  " +
                string.Join("\n  ", Lines));
            throw;
        }
    }

    /// <summary>Waits for <paramref name="count"/> warnings containing <paramref name="fragment"/> (ordinal); returns their texts.</summary>
    public async Task<IReadOnlyList<string>> WaitForWarningsAsync(string fragment, int count, TimeSpan timeout)
    {
        var lines = await WaitForAsync(l => l.Level == LogLevel.WarningLevel && l.Text.Contains(fragment, StringComparison.Ordinal),
            count, timeout, $"at warning level containing \"{fragment}\"");
        return lines.Select(l => l.Text).ToArray();
    }

    public async Task<string> WaitForWarningAsync(string fragment, TimeSpan timeout) =>
        (await WaitForWarningsAsync(fragment, 1, timeout))[0];

    /// <summary>
    /// Waits for <paramref name="count"/> failed connection attempts, whatever their level (the
    /// first of each cause is an Error or a Warning, repeats are Debug); returns their texts.
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForConnectFailuresAsync(int count, TimeSpan timeout)
    {
        var lines = await WaitForAsync(l => l.Text.StartsWith("Failure connecting", StringComparison.Ordinal),
            count, timeout, "starting \"Failure connecting\" (any level)");
        return lines.Select(l => l.Text).ToArray();
    }
}

/// <summary>
/// An actor system for one test, whose log lines go to a <see cref="LogRecorder"/> and to the
/// test's output (shown when the test fails); nothing is written to the console.
/// </summary>
public sealed class AkkaTestSystem : IAsyncDisposable
{
    private static readonly Config Hocon = ConfigurationFactory.ParseString($$"""
        akka.loglevel = DEBUG
        akka.stdout-loglevel = OFF
        akka.loggers = ["{{typeof(SilentLogger).AssemblyQualifiedName}}"]
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        """);

    public AkkaTestSystem(ITestOutputHelper? output, LogRecorder? log = null)
    {
        Log = log ?? new LogRecorder();
        System = ActorSystem.Create("it" + Guid.NewGuid().ToString("N")[..12], Hocon);
        var forwarder = System.ActorOf(Props.Create(() => new LogForwarder(Log, output)), "test-log-forwarder");
        System.EventStream.Subscribe(forwarder, typeof(LogEvent));
    }

    public ActorSystem System { get; }

    public LogRecorder Log { get; }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await System.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // Reported by the test that hung, not here.
        }
    }

    private sealed class LogForwarder : ReceiveActor
    {
        public LogForwarder(LogRecorder log, ITestOutputHelper? output)
        {
            Receive<LogEvent>(e =>
            {
                var line = new LogLine(e.LogLevel(), e.LogSource ?? "", e.Message?.ToString() ?? "");
                log.Record(line);
                if (output is null) return;
                try
                {
                    output.WriteLine($"{e.Timestamp:HH:mm:ss.fff} {line}{(e.Cause is { } cause ? $"\n    {cause}" : "")}");
                }
                catch (InvalidOperationException)
                {
                    // The test has finished; its output is closed.
                }
            });
        }
    }
}

/// <summary>An Akka logger that discards everything: the tests read the event stream themselves.</summary>
public sealed class SilentLogger : ReceiveActor
{
    public SilentLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        ReceiveAny(_ => { });
    }
}
