using System.Globalization;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>The comparison's settings; every one has a command-line option (<see cref="Usage"/>).</summary>
public sealed record CompareOptions
{
    /// <summary>The usage text.</summary>
    public const string Usage = """
        usage: compare --rabbit URL --rabbit-pid PID --redis HOST:PORT --redis-pid PID --bin DIR [options]
          --quick                 smoke run: 20 clients, 4 rooms, one rate, 2 s rounds, a short fault round
          --systems a,b,…         channels (the demo as configured), signalr, pubsub, channels-default (the demo with the
                                  library's default RemoteCapacity of 100); default all four, quick the first three
          --clients N --rooms M   (default 200, 10)
          --rates R1,R2,…         the sweep's total send rates, messages/s (default 250,500,1000,2000,4000)
          --duration S            seconds of sending per round (default 10)
          --fault-rate R          the fault round's rate (default 500); --fault-duration S (default 10); --pause S (default 2)
          --no-fault              skip the fault round
          --remote-capacity N     the channels servers' ChannelLayers:Default:RemoteCapacity (default: the sample's setting)
          --warmup S              an unrecorded round per system first (default 20: until the servers' JIT has settled; quick 0)
          --server-env NAME=VALUE an environment variable for every server process (repeatable), e.g. DOTNET_TieredPGO=0
          --settle S              pause between the last join and the first send (default 1.5)
          --port-base P           first of 10 ports for the servers (default 5751)
          --json PATH             where the JSON goes (default artifacts/compare/compare.json)
          --charts DIR            where the PNG charts go (default docs/images; with --quick, artifacts/compare)
        or: compare --replot RUN.json [--charts DIR]   the charts of an earlier run's JSON
        or: compare --broker-cost --rabbit URL --rabbit-pid PID [--messages N] [--rate R] [--rounds K] [--json PATH]
                                  RabbitMQ's CPU per group message on the layer's path and without each of its
                                  choices (raw client, no servers); default 20000 messages at 2000/s, 3 rounds,
                                  JSON artifacts/compare/broker-cost.json; with --quick 2000 messages, 1 round
        """;

    /// <summary>Smoke run.</summary>
    public bool Quick { get; init; }

    /// <summary>Measure the broker's CPU per group message (<see cref="Compare.BrokerCost"/>) instead of comparing systems.</summary>
    public bool BrokerCost { get; init; }

    /// <summary>Messages per broker-cost measurement.</summary>
    public int CostMessages { get; init; } = 20_000;

    /// <summary>The broker-cost publish rate, messages/s.</summary>
    public double CostRate { get; init; } = 2_000;

    /// <summary>Rounds of the broker-cost variants.</summary>
    public int CostRounds { get; init; } = 3;

    /// <summary>Which systems, in this order in the first round.</summary>
    public IReadOnlyList<string> Systems { get; init; } = ["channels", "signalr", "pubsub", "channels-default"];

    /// <summary>Websocket clients per round.</summary>
    public int Clients { get; init; } = 200;

    /// <summary>Rooms.</summary>
    public int Rooms { get; init; } = 10;

    /// <summary>The sweep's rates, messages/s in total.</summary>
    public IReadOnlyList<double> Rates { get; init; } = [250, 500, 1000, 2000, 4000];

    /// <summary>Sending time of a sweep round.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether to run the fault round.</summary>
    public bool Fault { get; init; } = true;

    /// <summary>The fault round's rate.</summary>
    public double FaultRate { get; init; } = 500;

    /// <summary>The fault round's sending time.</summary>
    public TimeSpan FaultDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the shared part stays frozen.</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Length of the unrecorded warm-up round per system (0: none). 20 s: a server's tiered JIT
    /// (with dynamic PGO) goes on compiling for 15-20 s after it starts taking traffic here
    /// (docs/performance.md, "Where the layer loses, and why", point 2).
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Environment variables set for every server process (not for this program or the load client).</summary>
    public IReadOnlyDictionary<string, string> ServerEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Pause after the joins.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>The chat servers' RemoteCapacity, or null for the sample's own setting.</summary>
    public int? RemoteCapacity { get; init; }

    /// <summary>The broker the chat servers use.</summary>
    public string RabbitUrl { get; init; } = "";

    /// <summary>The RabbitMQ node's process (beam.smp).</summary>
    public int RabbitPid { get; init; }

    /// <summary>Redis for the SignalR backplane.</summary>
    public string Redis { get; init; } = "";

    /// <summary>The redis-server process.</summary>
    public int RedisPid { get; init; }

    /// <summary>The build output folder name of each server project (<c>bin/Release/net10.0</c>), relative to its project.</summary>
    public string Bin { get; init; } = "bin/Release/net10.0";

    /// <summary>The repository root.</summary>
    public string Root { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>First port.</summary>
    public int PortBase { get; init; } = 5751;

    /// <summary>JSON output.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Chart folder.</summary>
    public string? ChartsDirectory { get; init; }

    /// <summary>The rounds' load options without rate and duration.</summary>
    public static CompareOptions QuickDefaults(CompareOptions o) => o with
    {
        Quick = true,
        Systems = ["channels", "signalr", "pubsub"],
        Clients = 20,
        Rooms = 4,
        Rates = [100],
        Duration = TimeSpan.FromSeconds(2),
        FaultRate = 100,
        FaultDuration = TimeSpan.FromSeconds(3),
        Settle = TimeSpan.FromSeconds(1.2),
        Warmup = TimeSpan.Zero,
        CostMessages = 2_000,
        CostRounds = 1,
    };

    /// <summary>Parses the command line (<c>--quick</c> first sets the quick defaults; later options override them).</summary>
    /// <exception cref="ArgumentException">Unknown or incomplete option.</exception>
    public static CompareOptions Parse(string[] args)
    {
        var o = args.Contains("--quick") ? QuickDefaults(new CompareOptions()) : new CompareOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            double Number() => double.Parse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture);
            int Int() => int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--quick" => o,
                "--broker-cost" => o with { BrokerCost = true },
                "--messages" => o with { CostMessages = Int() },
                "--rate" => o with { CostRate = Number() },
                "--rounds" => o with { CostRounds = Int() },
                "--systems" => o with { Systems = Value().Split(',', StringSplitOptions.RemoveEmptyEntries) },
                "--clients" => o with { Clients = Int() },
                "--rooms" => o with { Rooms = Int() },
                "--rates" => o with { Rates = Value().Split(',').Select(r => double.Parse(r, CultureInfo.InvariantCulture)).ToArray() },
                "--duration" => o with { Duration = TimeSpan.FromSeconds(Number()) },
                "--fault-rate" => o with { FaultRate = Number() },
                "--fault-duration" => o with { FaultDuration = TimeSpan.FromSeconds(Number()) },
                "--pause" => o with { Pause = TimeSpan.FromSeconds(Number()) },
                "--no-fault" => o with { Fault = false },
                "--warmup" => o with { Warmup = TimeSpan.FromSeconds(Number()) },
                "--settle" => o with { Settle = TimeSpan.FromSeconds(Number()) },
                "--remote-capacity" => o with { RemoteCapacity = Int() },
                "--server-env" => o with { ServerEnvironment = WithVariable(o.ServerEnvironment, Value()) },
                "--rabbit" => o with { RabbitUrl = Value() },
                "--rabbit-pid" => o with { RabbitPid = Int() },
                "--redis" => o with { Redis = Value() },
                "--redis-pid" => o with { RedisPid = Int() },
                "--bin" => o with { Bin = Value() },
                "--root" => o with { Root = Value() },
                "--port-base" => o with { PortBase = Int() },
                "--json" => o with { JsonPath = Value() },
                "--charts" => o with { ChartsDirectory = Value() },
                _ => throw new ArgumentException($"Unknown argument {args[i]}."),
            };
        }
        if (o.BrokerCost)
        {
            // No servers: only the broker.
            if (o.RabbitUrl == "" || o.RabbitPid <= 0) throw new ArgumentException("--broker-cost needs --rabbit and --rabbit-pid.");
            if (o.CostMessages < 10 || o.CostRate <= 0 || o.CostRounds < 1)
                throw new ArgumentException("--broker-cost needs --messages of at least 10, a --rate above 0 and --rounds of at least 1.");
            return o;
        }
        foreach (var s in o.Systems)
            if (s is not ("channels" or "signalr" or "pubsub" or "channels-default")) throw new ArgumentException($"Unknown system {s}.");
        if (o.Systems.Any(s => s.StartsWith("channels", StringComparison.Ordinal)) && (o.RabbitUrl == "" || o.RabbitPid <= 0)) throw new ArgumentException("channels needs --rabbit and --rabbit-pid.");
        if (o.Systems.Contains("signalr") && (o.Redis == "" || o.RedisPid <= 0)) throw new ArgumentException("signalr needs --redis and --redis-pid.");
        if (o.Rates.Count == 0 || o.Rates.Any(r => r <= 0)) throw new ArgumentException("Rates must be above 0.");
        return o;
    }

    private static Dictionary<string, string> WithVariable(IReadOnlyDictionary<string, string> variables, string assignment)
    {
        var equals = assignment.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0) throw new ArgumentException($"--server-env takes NAME=VALUE, not '{assignment}'.");
        return new Dictionary<string, string>(variables) { [assignment[..equals]] = assignment[(equals + 1)..] };
    }
}
