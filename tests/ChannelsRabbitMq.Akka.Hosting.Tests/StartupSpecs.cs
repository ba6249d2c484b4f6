using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>
/// What happens around the host's start: invalid settings stop it, and the layers are there only
/// once it has started. A plain host (no TestKit), since these tests start it themselves. The
/// layers point at a closed port: none of this needs a broker.
/// </summary>
public sealed class StartupSpecs
{
    private const string Unreachable = "amqp://guest:guest@127.0.0.1:1/asgi";

    [Fact]
    public async Task Invalid_configuration_fails_the_host_start_with_an_exception_naming_the_key()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("ChannelLayers:Default:Host", Unreachable), new("ChannelLayers:Default:Expiry", "soon")])
            .Build();
        using var host = BuildHost(akka => akka.WithRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:Default")));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.StartsWith("ChannelLayers:Default:Expiry:", e.Message);
    }

    [Fact]
    public async Task Invalid_options_in_code_fail_the_host_start_naming_the_layer_and_the_option()
    {
        using var host = BuildHost(akka => akka.WithRabbitMqChannelLayer(o =>
        {
            o.Host = Unreachable;
            o.LocalCapacity = 0;
        }, "chat"));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("'chat'", e.Message);
        Assert.Contains("LocalCapacity", e.Message);
    }

    [Fact]
    public async Task Two_layers_with_the_same_name_fail_the_host_start()
    {
        using var host = BuildHost(akka => akka
            .WithRabbitMqChannelLayer(o => o.Host = Unreachable, "chat")
            .WithRabbitMqChannelLayer(o => o.Host = Unreachable, "Chat"));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("'Chat' is already configured", e.Message);
    }

    [Fact]
    public async Task Resolving_the_default_layer_before_the_host_starts_throws_and_after_it_works()
    {
        using var host = BuildHost(akka => akka.WithRabbitMqChannelLayer(o => o.Host = Unreachable));

        var e = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IChannelLayer>());
        Assert.Contains("has not started yet", e.Message);

        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var layer = host.Services.GetRequiredService<IChannelLayer>();
            Assert.Same(host.Services.GetRequiredService<IChannelLayers>().Get(), layer);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task GetAsync_waits_until_the_host_has_started_the_layer()
    {
        using var host = BuildHost(akka => akka.WithRabbitMqChannelLayer(o => o.Host = Unreachable, "chat"));
        var pending = host.Services.GetRequiredService<IChannelLayers>().GetAsync("chat", TestContext.Current.CancellationToken);
        Assert.False(pending.IsCompleted);

        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var layer = await pending.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
            Assert.Same(host.Services.GetRequiredService<IChannelLayers>().Get("chat"), layer);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_name_that_is_not_configured_throws_listing_the_configured_ones()
    {
        using var host = BuildHost(akka => akka
            .WithRabbitMqChannelLayer(o => o.Host = Unreachable, "chat")
            .WithRabbitMqChannelLayer(o => o.Host = Unreachable, "events"));
        var layers = host.Services.GetRequiredService<IChannelLayers>();
        try
        {
            var e = Assert.Throws<ArgumentException>(() => layers.Get("chatt"));
            Assert.Contains("'chat', 'events'", e.Message);
            await Assert.ThrowsAsync<ArgumentException>(() => layers.GetAsync("chatt", TestContext.Current.CancellationToken));
            // No layer is called "default" here, so none is injectable as IChannelLayer.
            Assert.Throws<ArgumentException>(() => host.Services.GetRequiredService<IChannelLayer>());
        }
        finally
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static IHost BuildHost(Action<AkkaConfigurationBuilder> configureAkka) =>
        new HostBuilder()
            .ConfigureServices(services => services
                .AddChannelLayers()
                .AddAkka("startup-specs", (akka, _) => configureAkka(akka)))
            .Build();
}
