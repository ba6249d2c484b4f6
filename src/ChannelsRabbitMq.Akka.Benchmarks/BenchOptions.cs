using System.Globalization;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>The command line of the benchmark program.</summary>
public sealed class BenchOptions
{
    public const string Usage = """
        Benchmarks of ChannelsRabbitMq.Akka against the raw RabbitMQ.Client (same AMQP work, same run).

          dotnet run -c Release --project src/ChannelsRabbitMq.Akka.Benchmarks -- [options]

          --quick              every scenario briefly (a smoke run: seconds, not figures to quote)
          --micro              scenario 6 only, with BenchmarkDotNet (in-process; takes minutes;
                               with --quick its ShortRun job, under a minute)
          --json PATH          also write the figures as JSON to PATH
          --host URI           AMQP URI of the broker (default: $CHANNELS_RABBITMQ_TEST_URL or
                               amqp://guest:guest@127.0.0.1:5682/asgi, the project's test broker)
          --scenarios LIST     which scenarios to run, e.g. 1,2,4 (default: 1,2,3,4,5,6)
          --rounds N           measured rounds per scenario (default 5, quick 2)
          --warmup N           warm-up rounds per scenario (default 1)
          --channels N         scenario 5: channels for the memory figures (default 100000, quick 2000)
          --groups N           scenario 5: groups bound and replayed (default 10000, quick 500)
          --side ours|raw      run only the layer's or only the raw client's rounds of scenarios 1-4
                               (for profiling one side, e.g. under dotnet-trace)
          --alloc-profile      print the types allocated most during each scenario (sampled)
          --verbose            echo the layer's warnings to stderr as they happen
          --help               this text
        """;

    public bool Quick { get; set; }

    public bool Micro { get; set; }

    public string? JsonPath { get; set; }

    public string Host { get; set; } =
        Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_TEST_URL") is { Length: > 0 } url
            ? url
            : "amqp://guest:guest@127.0.0.1:5682/asgi";

    public HashSet<int> Scenarios { get; set; } = [1, 2, 3, 4, 5, 6];

    public int? Rounds { get; set; }

    public int? Warmup { get; set; }

    public int? Channels { get; set; }

    public int? Groups { get; set; }

    public bool Verbose { get; set; }

    public bool AllocationProfile { get; set; }

    /// <summary>"both" (default), "ours" or "raw".</summary>
    public string Side { get; set; } = "both";

    public bool Help { get; set; }

    public int EffectiveRounds => Rounds ?? (Quick ? 2 : 5);

    public int EffectiveWarmup => Warmup ?? 1;

    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Count) throw new ArgumentException($"{args[i]} needs a value.");
                return args[++i];
            }

            int Count()
            {
                var name = args[i];
                var text = Value();
                if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 0)
                    throw new ArgumentException($"{name} needs a non-negative integer, not '{text}'.");
                return n;
            }

            switch (args[i])
            {
                case "--quick": options.Quick = true; break;
                case "--micro": options.Micro = true; break;
                case "--json": options.JsonPath = Value(); break;
                case "--host": options.Host = Value(); break;
                case "--rounds": options.Rounds = Math.Max(1, Count()); break;
                case "--warmup": options.Warmup = Count(); break;
                case "--channels": options.Channels = Math.Max(1, Count()); break;
                case "--groups": options.Groups = Math.Max(1, Count()); break;
                case "--verbose": options.Verbose = true; break;
                case "--alloc-profile": options.AllocationProfile = true; break;
                case "--side":
                    options.Side = Value();
                    if (options.Side is not ("both" or "ours" or "raw")) throw new ArgumentException("--side takes ours, raw or both.");
                    break;
                case "--help" or "-h": options.Help = true; break;
                case "--scenarios":
                    var list = Value();
                    var set = new HashSet<int>();
                    foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) || id is < 1 or > 6)
                            throw new ArgumentException($"--scenarios takes numbers from 1 to 6, not '{part}'.");
                        set.Add(id);
                    }
                    options.Scenarios = set;
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }
        if (options.Micro) options.Scenarios = [6];
        var host = new Uri(options.Host.Split(',')[0].Trim());
        if (!System.Net.IPAddress.TryParse(host.Host, out var address) ? host.Host != "localhost" : !System.Net.IPAddress.IsLoopback(address))
            throw new ArgumentException($"The benchmark only talks to a broker on this machine (loopback), not {host.Host}.");
        return options;
    }
}
