using System.Diagnostics;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Samples.Compare.Tests;

/// <summary><c>./build.sh compare --quick</c> in the test suite, so the comparison cannot rot.</summary>
public sealed class QuickCompareSpecs(ITestOutputHelper output)
{
    // Away from the defaults (5750-5758), so a comparison running by hand is not in the way.
    private const int RedisPort = 5770;
    private const int PortBase = 5771;

    // No Broker=RabbitMQ trait: it runs in the 3.10 pass only. It compares three systems, not
    // brokers; the layer's own tests cover RabbitMQ 4.x (and it would add a minute to that pass).
    [Fact]
    public async Task The_quick_run_drives_all_three_systems_and_writes_their_figures_and_charts()
    {
        var root = RepositoryRoot();
        var work = Directory.CreateTempSubdirectory("compare-quick-");
        var json = Path.Combine(work.FullName, "compare.json");
        var configuration = Configuration();
        var (exitCode, stdout, stderr) = await RunScriptAsync(root,
            ["--quick", "--no-build", "--configuration", configuration, "--redis-port", $"{RedisPort}", "--port-base", $"{PortBase}",
             "--json", json, "--charts", work.FullName, "--server-env", "DOTNET_gcServer=0"]);
        output.WriteLine(stdout);
        output.WriteLine(stderr);

        Assert.Equal(0, exitCode);
        using var run = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        // The servers' environment is part of the run's record (the JIT figures depend on it).
        Assert.Equal("0", run.RootElement.GetProperty("options").GetProperty("serverEnvironment").GetProperty("DOTNET_gcServer").GetString());
        var rounds = run.RootElement.GetProperty("rounds").EnumerateArray().ToList();
        foreach (var system in new[] { "channels", "signalr", "pubsub" })
        {
            var sweep = Assert.Single(rounds, r => r.GetProperty("system").GetString() == system && r.GetProperty("kind").GetString() == "sweep");
            Assert.True(sweep.GetProperty("sent").GetInt64() > 0, $"{system} sent nothing");
            // Every message of the quick round reached every client of its room, once.
            Assert.Equal(sweep.GetProperty("expected").GetInt64(), sweep.GetProperty("delivered").GetInt64());
            Assert.Equal(0, sweep.GetProperty("duplicates").GetInt64());
            Assert.True(sweep.GetProperty("p999Ms").GetDouble() >= sweep.GetProperty("p50Ms").GetDouble());
            Assert.True(sweep.GetProperty("serverCpuUsPerDelivery").GetDouble() > 0, $"{system}: no server CPU measured");

            var fault = Assert.Single(rounds, r => r.GetProperty("system").GetString() == system && r.GetProperty("kind").GetString() == "fault");
            Assert.Equal(2, fault.GetProperty("fault").GetProperty("pausedSeconds").GetDouble());
            Assert.True(fault.GetProperty("delivered").GetInt64() > 0, $"{system} delivered nothing in the fault round");
        }
        Assert.True(new FileInfo(Path.Combine(work.FullName, "compare-latency.png")).Length > 0);
        Assert.True(new FileInfo(Path.Combine(work.FullName, "compare-fault.png")).Length > 0);
        work.Delete(recursive: true);
    }

    // Both passes: every variant must be one the broker accepts (RabbitMQ 4.3 refuses non-durable
    // shared queues), and the broker-cost mode starts neither servers nor Redis.
    [Fact]
    [Trait("Broker", "RabbitMQ")]
    public async Task The_quick_broker_cost_run_measures_every_variant_of_the_layers_path_on_either_broker()
    {
        var root = RepositoryRoot();
        var work = Directory.CreateTempSubdirectory("compare-broker-cost-");
        var json = Path.Combine(work.FullName, "broker-cost.json");
        var configuration = Configuration();
        var (exitCode, stdout, stderr) = await RunScriptAsync(root,
            ["--quick", "--no-build", "--configuration", configuration, "--redis-port", $"{RedisPort}", "--broker-cost", "--json", json]);
        output.WriteLine(stdout);
        output.WriteLine(stderr);

        Assert.Equal(0, exitCode);
        using var result = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var samples = result.RootElement.GetProperty("samples").EnumerateArray().ToList();
        // One round in the quick mode: each variant once.
        Assert.Equal(["coalesced-acks", "exclusive", "layer", "no-arguments", "no-confirms"],
            samples.Select(s => s.GetProperty("variant").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(samples, s => Assert.True(s.GetProperty("brokerUsPerMessage").GetDouble() > 0, $"{s.GetProperty("variant")}: no broker CPU measured"));
        work.Delete(recursive: true);
    }

    // bin/<Configuration>/net10.0/: the servers were built in the same configuration as these tests.
    private static string Configuration() => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    // scripts/compare.sh with these arguments; killed with everything it started after 4 minutes.
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunScriptAsync(string root, string[] arguments)
    {
        var start = new ProcessStartInfo("/bin/bash", [Path.Combine(root, "scripts", "compare.sh"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
        }
        catch (TimeoutException)
        {
            // Leave nothing running: the script, Redis, the servers.
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "build.sh")) && Directory.Exists(Path.Combine(dir.FullName, "scripts")))
                return dir.FullName;
        throw new InvalidOperationException("The repository root (build.sh) is not above " + AppContext.BaseDirectory);
    }
}
