using Akka.Hosting;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Xunit;
using HostingTestKit = Akka.Hosting.TestKit.TestKit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>
/// <see cref="ChannelLayerHealthCheck"/> through ASP.NET Core's <see cref="HealthCheckService"/>:
/// a layer on the test broker, and one whose broker is a closed port.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class HealthCheckSpecs(ITestOutputHelper output) : HostingTestKit(nameof(HealthCheckSpecs), output)
{
    private const string Unreachable = "amqp://guest:guest@127.0.0.1:1/asgi";

    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services) =>
        services.AddHealthChecks()
            .AddChannelLayer()
            .AddChannelLayer("down")
            .AddChannelLayer("down", TimeSpan.FromMilliseconds(200), name: "down-200ms")
            .AddChannelLayer("missing", tags: ["ready"]);

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) =>
        builder
            .WithRabbitMqChannelLayer(options => options.Host = TestBroker.Url)
            .WithRabbitMqChannelLayer(options => options.Host = Unreachable, "down");

    [Fact]
    public async Task A_connected_layer_is_Healthy()
    {
        var entry = await Eventually.Until(() => CheckAsync("channel-layer"), e => e.Status == HealthStatus.Healthy, "healthy");

        Assert.Equal(true, entry.Data["connected"]);
        Assert.False(entry.Data.ContainsKey("disconnectedSince"));
    }

    [Fact]
    public async Task A_disconnected_layer_is_Degraded_with_its_state_in_the_data()
    {
        var entry = await CheckAsync("channel-layer-down");

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        var layer = ChannelLayerRegistry.For(Sys).Get("down");
        Assert.Equal("down", entry.Data["layer"]);
        Assert.Equal(layer.GetStatistics().QueueName, entry.Data["queueName"]);
        Assert.Equal(false, entry.Data["connected"]);
        Assert.IsType<DateTimeOffset>(entry.Data["disconnectedSince"]);
        Assert.Equal(0, entry.Data["localBacklog"]);
        Assert.Equal(0, entry.Data["liveChannels"]);
    }

    [Fact]
    public async Task A_layer_that_cannot_connect_says_why_in_the_description_and_the_data()
    {
        var entry = await Eventually.Until(() => CheckAsync("channel-layer-down"), e => e.Data.ContainsKey("lastConnectionError"), "a failed attempt");

        Assert.Contains("Connection attempts failing since", entry.Description);
        Assert.Contains("is RabbitMQ running", entry.Description);
        Assert.Contains("is RabbitMQ running", (string)entry.Data["lastConnectionError"]);
        Assert.IsType<DateTimeOffset>(entry.Data["lastConnectionErrorSince"]);
    }

    [Fact]
    public async Task A_layer_disconnected_for_longer_than_UnhealthyAfter_is_Unhealthy()
    {
        var entry = await Eventually.Until(() => CheckAsync("down-200ms"), e => e.Status != HealthStatus.Degraded, "past UnhealthyAfter");

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("Disconnected for", entry.Description);
    }

    [Fact]
    public async Task A_layer_that_is_not_configured_is_Unhealthy()
    {
        var entry = await CheckAsync("channel-layer-missing");

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("'missing'", entry.Description);
        Assert.Contains("ready", entry.Tags);
    }

    [Fact]
    public async Task The_clock_decides_when_a_disconnection_turns_Unhealthy()
    {
        var layer = ChannelLayerRegistry.For(Sys).Get("down");
        var clock = new ShiftedClock();
        var check = new ChannelLayerHealthCheck(layer, TimeSpan.FromSeconds(30), clock);
        var context = new HealthCheckContext
        {
            Registration = new HealthCheckRegistration("direct", check, HealthStatus.Unhealthy, null),
        };

        Assert.Equal(HealthStatus.Degraded, (await check.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);
        clock.Shift = TimeSpan.FromSeconds(31);
        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);
    }

    private async Task<HealthReportEntry> CheckAsync(string name)
    {
        var report = await Host.Services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(r => r.Name == name, TestContext.Current.CancellationToken);
        return report.Entries[name];
    }

    private sealed class ShiftedClock : TimeProvider
    {
        public TimeSpan Shift { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
    }
}
