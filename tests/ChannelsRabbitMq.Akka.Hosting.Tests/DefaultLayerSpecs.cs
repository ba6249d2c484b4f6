using Akka.Actor;
using Akka.Hosting;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;
using HostingTestKit = Akka.Hosting.TestKit.TestKit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>The default layer, configured with one call: in the ActorRegistry, answering the actor protocol, and injectable.</summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class DefaultLayerSpecs(ITestOutputHelper output) : HostingTestKit(nameof(DefaultLayerSpecs), output)
{
    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services) => services.AddChannelLayers();

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) =>
        builder.WithRabbitMqChannelLayer(options => options.Host = TestBroker.Url);

    [Fact]
    public async Task The_layer_actor_is_in_the_ActorRegistry_and_answers_NewChannel()
    {
        var actor = ActorRegistry.Get<DefaultChannelLayer>();

        var created = await actor.Ask<ChannelLayerProtocol.ChannelCreated>(new ChannelLayerProtocol.NewChannel("chat"), Eventually.Timeout, TestContext.Current.CancellationToken);

        var layer = Host.Services.GetRequiredService<RabbitMqChannelLayer>();
        Assert.StartsWith($"{layer.QueueName}!chat.", created.Channel);
    }

    [Fact]
    public async Task IRequiredActor_of_DefaultChannelLayer_is_the_layer_actor()
    {
        var required = Host.Services.GetRequiredService<IRequiredActor<DefaultChannelLayer>>();

        var actor = await required.GetAsync(TestContext.Current.CancellationToken);

        Assert.Equal(Host.Services.GetRequiredService<IActorChannelLayer>().Actor, actor);
    }

    [Fact]
    public void DI_resolves_IChannelLayer_IActorChannelLayer_and_RabbitMqChannelLayer_to_the_registered_layer()
    {
        var layer = Host.Services.GetRequiredService<RabbitMqChannelLayer>();

        Assert.Same(layer, Host.Services.GetRequiredService<IChannelLayer>());
        Assert.Same(layer, Host.Services.GetRequiredService<IActorChannelLayer>());
        Assert.Same(layer, Host.Services.GetRequiredService<IChannelLayers>().Get());
        Assert.Same(layer, ChannelLayerRegistry.For(Sys).Get(DefaultChannelLayer.Name));
        Assert.Equal(ActorRegistry.Get<DefaultChannelLayer>(), layer.Actor);
    }

    [Fact]
    public async Task The_injected_layer_sends_and_receives_through_the_broker()
    {
        var layer = Host.Services.GetRequiredService<IChannelLayer>();
        var channel = await layer.NewChannelAsync(cancellationToken: TestContext.Current.CancellationToken);

        await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "hello" }, TestContext.Current.CancellationToken)
            .WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        var message = await layer.ReceiveAsync(channel, TestContext.Current.CancellationToken)
            .WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);

        Assert.Equal("hello", message["type"]);
    }
}
