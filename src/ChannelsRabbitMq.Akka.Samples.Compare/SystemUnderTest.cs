using System.Diagnostics;
using System.Globalization;
using ChannelsRabbitMq.Akka.Samples.Chat.Load;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>
/// One of the three systems: two server processes this program starts, the shared part
/// (RabbitMQ, Redis, or none: the cluster is the servers themselves) and what the fault round freezes.
/// </summary>
public sealed class SystemUnderTest : IAsyncDisposable
{
    private readonly List<Process> _servers = [];

    private SystemUnderTest(string name, string description, LoadDialect dialect, IReadOnlyList<int> ports, IReadOnlyList<int> sharedPids,
        string sharedName)
    {
        Name = name;
        Description = description;
        Dialect = dialect;
        Ports = ports;
        SharedPids = sharedPids;
        SharedName = sharedName;
    }

    /// <summary>channels, signalr or pubsub.</summary>
    public string Name { get; }

    /// <summary>What it is, for the table.</summary>
    public string Description { get; }

    /// <summary>What the load client speaks to it.</summary>
    public LoadDialect Dialect { get; }

    /// <summary>The two servers' HTTP ports.</summary>
    public IReadOnlyList<int> Ports { get; }

    /// <summary>The shared part's processes (empty for the cluster).</summary>
    public IReadOnlyList<int> SharedPids { get; }

    /// <summary>The shared part, for the table.</summary>
    public string SharedName { get; }

    /// <summary>The servers' processes.</summary>
    public IReadOnlyList<int> ServerPids => _servers.Select(p => p.Id).ToArray();

    /// <summary>The process the fault round freezes: the broker, Redis, or the second cluster node.</summary>
    public int FaultPid => SharedPids.Count > 0 ? SharedPids[0] : _servers[1].Id;

    /// <summary>The servers' URLs.</summary>
    public IReadOnlyList<Uri> Urls => Ports.Select(p => new Uri($"http://127.0.0.1:{p}")).ToArray();

    /// <summary>The systems named in <paramref name="options"/>, not started yet.</summary>
    public static IEnumerable<SystemUnderTest> Define(CompareOptions options)
    {
        var p = options.PortBase;
        foreach (var name in options.Systems)
        {
            yield return name switch
            {
                "channels" => new SystemUnderTest(name, "ChannelsRabbitMq.Akka (RabbitMQ)", LoadDialect.Chat, [p, p + 1], [options.RabbitPid], "RabbitMQ"),
                "signalr" => new SystemUnderTest(name, "SignalR + Redis backplane", LoadDialect.SignalR, [p + 2, p + 3], [options.RedisPid], "Redis"),
                "channels-default" => new SystemUnderTest(name, "ChannelsRabbitMq.Akka, RemoteCapacity 100", LoadDialect.Chat, [p + 8, p + 9],
                    [options.RabbitPid], "RabbitMQ"),
                _ => new SystemUnderTest(name, "Akka.Cluster DistributedPubSub", LoadDialect.Chat, [p + 4, p + 5], [], "(the nodes)"),
            };
        }
    }

    /// <summary>Starts both servers and waits until both answer <c>/healthz</c> with 200.</summary>
    public async Task StartAsync(CompareOptions options, string logs, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 2; i++)
        {
            var url = $"--urls http://127.0.0.1:{Ports[i]} --Chat:ServerName {Name}-{(i == 0 ? "a" : "b")} --Logging:LogLevel:Default Warning";
            var remotePort = options.PortBase + 6;
            var (project, extra) = Name switch
            {
                // The library's default RemoteCapacity, where the sample sets its own (docs/performance.md).
                "channels-default" => ("ChannelsRabbitMq.Akka.Samples.Chat",
                    $"--ChannelLayers:Default:Host {options.RabbitUrl} --ChannelLayers:Default:RemoteCapacity 100"),
                "channels" => ("ChannelsRabbitMq.Akka.Samples.Chat",
                    $"--ChannelLayers:Default:Host {options.RabbitUrl}" +
                    (options.RemoteCapacity is { } capacity ? $" --ChannelLayers:Default:RemoteCapacity {capacity}" : "")),
                "signalr" => ("ChannelsRabbitMq.Akka.Samples.Compare.SignalR", $"--Redis {options.Redis}"),
                _ => ("ChannelsRabbitMq.Akka.Samples.Compare.PubSub", $"--Cluster:Port {remotePort + i} --Cluster:Seed 127.0.0.1:{remotePort}"),
            };
            var dll = Path.Combine(options.Root, "src", project, options.Bin, project + ".dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is not built.", dll);
            var log = Path.Combine(logs, $"{Name}-{Ports[i]}.log");
            // exec: the shell becomes the server, so its pid is the server's.
            var start = new ProcessStartInfo("/bin/bash", ["-c", $"exec dotnet '{dll}' {url} {extra} </dev/null >'{log}' 2>&1"])
            {
                UseShellExecute = false,
            };
            foreach (var (variable, value) in options.ServerEnvironment) start.Environment[variable] = value;
            _servers.Add(Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dll}."));
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        foreach (var url in Urls)
        {
            while (true)
            {
                if (_servers.FirstOrDefault(s => s.HasExited) is { } exited)
                    throw new InvalidOperationException($"A {Name} server exited with {exited.ExitCode} (logs: {logs}).");
                try
                {
                    if ((await http.GetAsync(new Uri(url, "/healthz"), cancellationToken)).IsSuccessStatusCode) break;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                }
                if (Stopwatch.GetTimestamp() > deadline) throw new TimeoutException($"The {Name} server {url} was not healthy within 90 s (logs: {logs}).");
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    /// <summary>Stops the servers (SIGTERM, then SIGKILL after 15 s).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers.Where(s => !s.HasExited))
        {
            try
            {
                ProcessProbe.Terminate(server.Id);
            }
            catch (InvalidOperationException)
            {
            }
        }
        foreach (var server in _servers)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await server.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                server.Kill();
            }
            server.Dispose();
        }
        _servers.Clear();
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({Description})");
}
