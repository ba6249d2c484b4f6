using System.Diagnostics;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// Two dedicated RabbitMQ nodes, clustered (<c>scripts/cluster.sh</c>): started fresh once for
/// the <see cref="DedicatedBrokerCollection"/>, deleted at its end. Every test that stops a
/// node, sets an alarm or floods a queue runs here, never on the shared test node.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(4);

    public string Url1 => $"amqp://guest:guest@127.0.0.1:{Port1}/asgi";

    public string Url2 => $"amqp://guest:guest@127.0.0.1:{Port2}/asgi";

    public int Port1 { get; } = EnvInt("CHANNELS_RABBITMQ_CLUSTER_PORT1", 5690);

    public int Port2 { get; } = EnvInt("CHANNELS_RABBITMQ_CLUSTER_PORT2", 5692);

    public string Node1 { get; } = Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_CLUSTER_NODE1") is { Length: > 0 } n1 ? n1 : "channels-rabbitmq-rel1@localhost";

    public string Node2 { get; } = Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_CLUSTER_NODE2") is { Length: > 0 } n2 ? n2 : "channels-rabbitmq-rel2@localhost";

    public NodeCtl Ctl1 { get; } = NodeCtl.Cluster(1);

    public NodeCtl Ctl2 { get; } = NodeCtl.Cluster(2);

    /// <summary>How long the cluster took to come up (reported by the tests).</summary>
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        await Task.Run(() => Script("fresh"));
        StartTime = clock.Elapsed;
    }

    public async Task DisposeAsync() => await Task.Run(() => Script("reset"));

    /// <summary>
    /// Undoes whatever a test may have left behind (a stopped node 1, a memory alarm, guest
    /// without permissions), in one rabbitmqctl call on node 2 (never stopped by the tests)
    /// when nothing is wrong.
    /// </summary>
    public void Heal()
    {
        var status = Ctl2.Ctl("eval", """
            Running = rabbit_nodes:all_running(),
            lists:foreach(fun(N) -> rpc:call(N, vm_memory_monitor, set_vm_memory_high_watermark, [0.4]) end, Running),
            ok = rabbit_auth_backend_internal:set_permissions(<<"guest">>, <<"asgi">>, <<".*">>, <<".*">>, <<".*">>, <<"reliability-tests">>),
            io:format("running ~b~n", [length(Running)]),
            ok.
            """);
        if (!status.Contains("running 2", StringComparison.Ordinal))
        {
            Ctl1.Ctl("start_app");
            Ctl1.Ctl("set_vm_memory_high_watermark", "0.4");
        }
    }

    private static void Script(string command)
    {
        var (code, stdout, stderr) = Shell.Run("bash", [Path.Combine(TestBroker.RepoRoot, "scripts", "cluster.sh"), command], ScriptTimeout);
        if (code != 0) throw new InvalidOperationException($"scripts/cluster.sh {command} failed ({code}):\n{stderr}\n{stdout}");
    }

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) ? value : fallback;
}

/// <summary>The tests that need dedicated nodes: one at a time, sharing one cluster.</summary>
[CollectionDefinition(Name)]
public sealed class DedicatedBrokerCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "Reliability: dedicated RabbitMQ cluster";
}
