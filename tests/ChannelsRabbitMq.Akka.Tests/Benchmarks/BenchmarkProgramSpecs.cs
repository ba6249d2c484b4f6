using System.Text.Json;
using ChannelsRabbitMq.Akka.Benchmarks;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Benchmarks;

/// <summary>
/// Keeps the benchmark program (src/ChannelsRabbitMq.Akka.Benchmarks) from rotting: its quick
/// mode runs in-process against the test broker and must produce figures for every scenario.
/// How fast anything is, is not asserted here (see docs/performance.md).
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class BenchmarkProgramSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Quick_mode_completes_with_figures_for_every_scenario()
    {
        var json = Path.Combine(Path.GetTempPath(), $"channels-bench-{Guid.NewGuid():N}.json");
        var text = new StringWriter();
        BenchmarkReport report;
        try
        {
            report = await BenchmarkProgram.RunAsync(["--quick", "--host", TestBroker.Url, "--json", json], TextWriter.Synchronized(text))
                .WaitAsync(TimeSpan.FromMinutes(4));
        }
        finally
        {
            output.WriteLine(text.ToString());
        }

        Assert.True(report.Completed, "A scenario failed: " + string.Join("; ", report.Scenarios.Where(s => s.Error is not null).Select(s => $"{s.Id}: {s.Error}")));
        Assert.Equal(["1", "2", "3", "4", "5", "6"], report.Scenarios.Select(s => s.Id));
        foreach (var scenario in report.Scenarios)
        {
            Assert.NotEmpty(scenario.Metrics);
            foreach (var metric in scenario.Metrics)
            {
                Assert.True(metric.Ours is not null || metric.Baseline is not null, $"{scenario.Id} {metric.Name} has no figures");
                foreach (var stats in new[] { metric.Ours, metric.Baseline })
                {
                    if (stats is null) continue;
                    Assert.NotEmpty(stats.Rounds);
                    Assert.All(stats.Rounds, v => Assert.True(double.IsFinite(v), $"{scenario.Id} {metric.Name}: {v}"));
                }
            }
            if (scenario.Id != "6")
            {
                // Every end-to-end scenario has figures of its own beside the raw client's.
                Assert.Contains(scenario.Metrics, m => m.Ours is not null && m.Baseline is not null && m.Ratio is not null);
            }
        }
        Assert.All(report.Scenarios.Where(s => s.Id is "1" or "2" or "3").SelectMany(s => s.Metrics).Where(m => m.HigherIsBetter),
            m => Assert.True(m.Ours!.Median > 0 && m.Baseline!.Median > 0, m.Name));

        var table = text.ToString();
        Assert.Contains("ours/raw", table, StringComparison.Ordinal);

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var scenarios = document.RootElement.GetProperty("scenarios");
        Assert.Equal(6, scenarios.GetArrayLength());
        Assert.All(scenarios.EnumerateArray(), s => Assert.True(s.GetProperty("metrics").GetArrayLength() > 0));
        File.Delete(json);
    }
}
