using System.Diagnostics;

namespace ChannelsRabbitMq.Akka.Tests;

/// <summary>
/// Where the integration tests find the project's RabbitMQ node (<c>scripts/broker.sh start</c>)
/// and how they drive it. Every value can be overridden by the variables that
/// <c>scripts/broker.sh env</c> prints.
/// </summary>
public static class TestBroker
{
    private static readonly Lazy<string> LazyRepoRoot = new(FindRepoRoot);

    /// <summary>
    /// Name of the trait that marks a test class talking to RabbitMQ:
    /// <c>[Trait(TestBroker.Trait, TestBroker.RabbitMq)]</c>. <c>./build.sh test</c> runs the whole
    /// suite against RabbitMQ 3.10, then these classes again against RabbitMQ 4.x
    /// (<c>--filter Broker=RabbitMQ</c>).
    /// </summary>
    public const string Trait = "Broker";

    /// <summary>Value of <see cref="Trait"/> for the tests that talk to RabbitMQ.</summary>
    public const string RabbitMq = "RabbitMQ";

    /// <summary>Plain AMQP URI of the test vhost: <c>CHANNELS_RABBITMQ_TEST_URL</c>.</summary>
    public static string Url => Env("CHANNELS_RABBITMQ_TEST_URL") ?? "amqp://guest:guest@127.0.0.1:5682/asgi";

    /// <summary>TLS URI (mutual TLS required by the broker): <c>CHANNELS_RABBITMQ_TEST_TLS_URL</c>.</summary>
    public static string TlsUrl => Env("CHANNELS_RABBITMQ_TEST_TLS_URL") ?? "amqps://guest:guest@localhost:5683/asgi";

    /// <summary>
    /// Which of the project's brokers the variables describe: <c>3</c> (RabbitMQ 3.10, the default)
    /// or <c>4</c> (RabbitMQ 4.x, configured as 4.3 ships): <c>CHANNELS_RABBITMQ_BROKER_VERSION</c>.
    /// </summary>
    public static string Version => Env("CHANNELS_RABBITMQ_BROKER_VERSION") ?? "3";

    /// <summary>Folder of the test certificates (ca.pem, client.pem, client-key.pem, client.p12, untrusted-*.pem): <c>CHANNELS_RABBITMQ_SSL_DIR</c>.</summary>
    public static string SslDir => Env("CHANNELS_RABBITMQ_SSL_DIR") ?? Path.Combine(RepoRoot, "ssl");

    /// <summary>Password of <c>client.p12</c>.</summary>
    public const string P12Password = "changeit";

    /// <summary>The folder holding <c>ChannelsRabbitMq.Akka.sln</c>.</summary>
    public static string RepoRoot => LazyRepoRoot.Value;

    /// <summary>A certificate file of <see cref="SslDir"/>.</summary>
    public static string Ssl(string fileName) => Path.Combine(SslDir, fileName);

    /// <summary>
    /// Runs rabbitmqctl against the test node (<c>CHANNELS_RABBITMQ_CTL</c>, by default
    /// <c>scripts/broker.sh ctl</c>) and returns its standard output; throws when it fails.
    /// </summary>
    public static string Ctl(params string[] args)
    {
        var command = Env("CHANNELS_RABBITMQ_CTL");
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (command is null)
        {
            psi.FileName = "bash";
            psi.ArgumentList.Add(Path.Combine(RepoRoot, "scripts", "broker.sh"));
            psi.ArgumentList.Add("ctl");
        }
        else
        {
            var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            psi.FileName = parts[0];
            foreach (var p in parts.Skip(1)) psi.ArgumentList.Add(p);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start rabbitmqctl.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"rabbitmqctl {string.Join(' ', args)} did not finish within 60 s.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }

    /// <summary>
    /// The pids (e.g. <c>&lt;channels-rabbitmq-test@localhost.1.2345.0&gt;</c>) of the open
    /// connections whose client-provided name is <paramref name="connectionName"/>.
    /// </summary>
    public static IReadOnlyList<string> ConnectionPids(string connectionName)
    {
        // The table format prints usable pids (JSON gives "#PID<...>", which close_connection refuses)
        // and the properties as Erlang-ish terms: {"connection_name","the name"}.
        var needle = "{\"connection_name\",\"" + connectionName.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"}";
        var pids = new List<string>();
        foreach (var line in Ctl("list_connections", "pid", "client_properties").Split('\n'))
        {
            var tab = line.IndexOf('\t');
            if (!line.StartsWith('<') || tab < 0) continue;
            if (line.IndexOf(needle, tab, StringComparison.Ordinal) >= 0) pids.Add(line[..tab]);
        }
        return pids;
    }

    /// <summary>
    /// Closes (from the broker's side, as an operator would) every connection named
    /// <paramref name="connectionName"/>; returns how many. Waits up to 10 s for one to appear.
    /// </summary>
    public static async Task<int> CloseConnectionsAsync(string connectionName, string reason = "closed by a test")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        IReadOnlyList<string> pids;
        while ((pids = ConnectionPids(connectionName)).Count == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        foreach (var pid in pids) Ctl("close_connection", pid, reason);
        return pids.Count;
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChannelsRabbitMq.Akka.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"ChannelsRabbitMq.Akka.sln not found above {AppContext.BaseDirectory}.");
    }
}
