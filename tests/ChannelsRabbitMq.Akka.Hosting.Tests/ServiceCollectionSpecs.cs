using Akka.Hosting;
using ChannelsRabbitMq.Akka.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>
/// The one call, <c>services.AddRabbitMqChannelLayer(…)</c>: named options bound from configuration
/// and validated at start, the layer started with the host, injectable keyed by its name and in the
/// ActorRegistry. A plain host started by each test; the layers point at a closed port (or the
/// in-memory broker): none of this needs RabbitMQ.
/// </summary>
public sealed class ServiceCollectionSpecs
{
    private const string Unreachable = "amqp://guest:guest@127.0.0.1:1/asgi";

    private sealed class NotificationsLayer;

    [Fact]
    public void The_options_are_named_after_the_layer_and_bound_from_its_section()
    {
        var configuration = Configuration(("ChannelLayers:notifications:Host", Unreachable), ("ChannelLayers:notifications:Expiry", "00:02:00"),
            ("ChannelLayers:notifications:LocalExpiry", "30"));
        using var host = BuildHost(services => services.AddRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:notifications"), "notifications"));

        var options = host.Services.GetRequiredService<IOptionsMonitor<RabbitMqChannelLayerOptions>>().Get("notifications");

        Assert.Equal(Unreachable, options.Host);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Expiry);
        Assert.Equal(TimeSpan.FromSeconds(30), options.LocalExpiry);
    }

    [Fact]
    public async Task A_misspelt_key_fails_the_host_start_naming_the_full_key()
    {
        var configuration = Configuration(("ChannelLayers:default:Host", Unreachable), ("ChannelLayers:default:ExclusiveQueu", "true"));
        using var host = BuildHost(services => services.AddRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:default")));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.StartsWith("ChannelLayers:default:ExclusiveQueu:", e.Message);
    }

    [Fact]
    public async Task An_out_of_range_value_fails_the_host_start_through_options_validation_naming_the_full_key()
    {
        var configuration = Configuration(("ChannelLayers:default:Host", Unreachable), ("ChannelLayers:default:LocalCapacity", "0"));
        using var host = BuildHost(services => services.AddRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:default")));

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(DefaultChannelLayer.Name, e.OptionsName);
        Assert.StartsWith("ChannelLayers:default:LocalCapacity:", e.Message);
    }

    [Fact]
    public async Task Invalid_options_set_in_code_fail_the_host_start_naming_the_layer_and_the_option()
    {
        using var host = BuildHost(services => services.AddRabbitMqChannelLayer(o =>
        {
            o.Host = Unreachable;
            o.Expiry = TimeSpan.Zero;
        }, "chat"));

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Channel layer 'chat': invalid Expiry", e.Message);
    }

    [Fact]
    public void The_same_name_twice_throws_at_once()
    {
        var services = new ServiceCollection().AddRabbitMqChannelLayer(o => o.Host = Unreachable, "chat");

        var e = Assert.Throws<InvalidOperationException>(() => services.AddRabbitMqChannelLayer(o => o.Host = Unreachable, "Chat"));

        Assert.Contains("'Chat' is already configured", e.Message);
    }

    [Fact]
    public async Task A_name_configured_both_on_the_services_and_on_the_Akka_builder_fails_the_host_start()
    {
        using var host = new HostBuilder()
            .ConfigureServices(services => services
                .AddAkka("service-collection-specs", akka => akka.WithRabbitMqChannelLayer(o => o.Host = Unreachable, "chat"))
                .AddRabbitMqChannelLayer(o => o.Host = Unreachable, "Chat"))
            .Build();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("'Chat' is configured twice", e.Message);
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task One_call_makes_each_layer_injectable_keyed_by_its_name_and_the_default_one_also_unkeyed()
    {
        using var host = BuildHost(services => services
            .AddRabbitMqChannelLayer(o => o.Host = Unreachable)
            .AddRabbitMqChannelLayer(o => o.Host = Unreachable, "notifications"));
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var layers = host.Services.GetRequiredService<IChannelLayers>();
            var notifications = host.Services.GetRequiredKeyedService<IChannelLayer>("notifications");
            var byDefault = host.Services.GetRequiredKeyedService<IChannelLayer>(DefaultChannelLayer.Name);

            Assert.Same(layers.Get("notifications"), notifications);
            Assert.Same(notifications, host.Services.GetRequiredKeyedService<IActorChannelLayer>("notifications"));
            Assert.Same(layers.Get(), byDefault);
            Assert.Same(byDefault, host.Services.GetRequiredService<IChannelLayer>());
            Assert.Same(byDefault, host.Services.GetRequiredService<IActorChannelLayer>());
            Assert.NotSame(byDefault, notifications);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_layer_starts_when_it_is_added_before_AddAkka_too()
    {
        using var host = new HostBuilder()
            .ConfigureServices(services => services
                .AddRabbitMqChannelLayer(o => o.Host = Unreachable)
                .AddAkka("service-collection-specs", _ => { }))
            .Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var actor = await host.Services.GetRequiredService<IRequiredActor<DefaultChannelLayer>>().GetAsync(TestContext.Current.CancellationToken);

            Assert.Equal(host.Services.GetRequiredService<IActorChannelLayer>().Actor, actor);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_default_layer_is_in_the_ActorRegistry_and_a_named_one_under_its_marker_type()
    {
        using var host = BuildHost(services => services
            .AddRabbitMqChannelLayer(o => o.Host = Unreachable)
            .AddRabbitMqChannelLayer<NotificationsLayer>(o => o.Host = Unreachable, "notifications"));
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var ct = TestContext.Current.CancellationToken;
            var byDefault = await host.Services.GetRequiredService<IRequiredActor<DefaultChannelLayer>>().GetAsync(ct);
            var notifications = await host.Services.GetRequiredService<IRequiredActor<NotificationsLayer>>().GetAsync(ct);

            Assert.Equal(host.Services.GetRequiredService<IActorChannelLayer>().Actor, byDefault);
            Assert.Equal(host.Services.GetRequiredKeyedService<IActorChannelLayer>("notifications").Actor, notifications);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_layer_name_that_is_not_configured_is_not_resolvable()
    {
        using var host = BuildHost(services => services.AddRabbitMqChannelLayer(o => o.Host = Unreachable, "chat"));
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var e = Assert.Throws<ArgumentException>(() => host.Services.GetRequiredKeyedService<IChannelLayer>("chatt"));
            Assert.Contains("'chat'", e.Message);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ReplaceChannelLayers_runs_the_apps_wiring_on_the_in_memory_broker()
    {
        var broker = new InMemoryBroker();
        using var host = BuildHost(services => services
            .AddRabbitMqChannelLayer(o => o.Host = Unreachable)
            .ReplaceChannelLayers((system, _, _) => broker.CreateLayer(system)));
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var ct = TestContext.Current.CancellationToken;
            var layer = host.Services.GetRequiredService<IChannelLayer>();
            var channel = await layer.NewChannelAsync(cancellationToken: ct);

            await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "ping" }, ct);
            var received = await layer.ReceiveAsync(channel, ct).WaitAsync(Eventually.Timeout, ct);

            Assert.IsType<InMemoryChannelLayer>(layer);
            Assert.Equal("ping", received["type"]);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();

    private static IHost BuildHost(Action<IServiceCollection> configure) =>
        new HostBuilder()
            .ConfigureServices(services =>
            {
                services.AddAkka("service-collection-specs", _ => { });
                configure(services);
            })
            .Build();
}
