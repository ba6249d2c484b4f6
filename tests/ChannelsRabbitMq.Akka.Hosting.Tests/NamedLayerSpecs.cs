using Akka.Actor;
using Akka.Hosting;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;
using HostingTestKit = Akka.Hosting.TestKit.TestKit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>Several layers in one app, each under its own name, configured in code and from configuration.</summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class NamedLayerSpecs(ITestOutputHelper output) : HostingTestKit(nameof(NamedLayerSpecs), output)
{
    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services) => services.AddChannelLayers();

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("ChannelLayers:Events:Host", TestBroker.Url), new("ChannelLayers:Events:Expiry", "30")])
            .Build();
        builder
            .WithRabbitMqChannelLayer(new RabbitMqChannelLayerOptions { Host = TestBroker.Url }, "chat")
            .WithRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:Events"), "events");
    }

    [Fact]
    public void Two_named_layers_are_distinct_layers_with_their_own_queues()
    {
        var layers = Host.Services.GetRequiredService<IChannelLayers>();

        var chat = Assert.IsType<RabbitMqChannelLayer>(layers.Get("chat"));
        var events = Assert.IsType<RabbitMqChannelLayer>(layers.Get("events"));

        Assert.NotSame(chat, events);
        Assert.NotEqual(chat.QueueName, events.QueueName);
        Assert.NotEqual(chat.Actor, events.Actor);
        Assert.Equal(["chat", "events"], layers.Names.Order());
    }

    [Fact]
    public void Layer_names_ignore_case()
    {
        var layers = Host.Services.GetRequiredService<IChannelLayers>();

        Assert.Same(layers.Get("chat"), layers.Get("CHAT"));
    }

    [Fact]
    public async Task A_message_crosses_from_one_named_layer_to_the_other()
    {
        var layers = Host.Services.GetRequiredService<IChannelLayers>();
        var chat = layers.Get("chat");
        var events = layers.Get("events");
        var created = await events.Actor.Ask<ChannelLayerProtocol.ChannelCreated>(new ChannelLayerProtocol.NewChannel(), Eventually.Timeout, TestContext.Current.CancellationToken);
        // The receiving layer's queue must exist before a message is routed to it.
        await Eventually.Until(() => events.GetStatistics().Connected, "connected");

        await chat.Actor.Ask<global::Akka.Done>(
            new ChannelLayerProtocol.Send(created.Channel, new Dictionary<string, object?> { ["type"] = "ping" }), Eventually.Timeout, TestContext.Current.CancellationToken);
        var received = await events.Actor.Ask<ChannelLayerProtocol.Received>(new ChannelLayerProtocol.Receive(created.Channel), Eventually.Timeout, TestContext.Current.CancellationToken);

        Assert.Equal("ping", received.Message["type"]);
    }

    [Fact]
    public void Without_a_layer_named_default_nothing_is_in_the_ActorRegistry()
    {
        Assert.False(ActorRegistry.TryGet<DefaultChannelLayer>(out _));
    }
}
