using Akka.Hosting;
using ChannelsRabbitMq.Akka;
using ChannelsRabbitMq.Akka.Hosting;
using ChannelsRabbitMq.Akka.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

// docs/testing.md, "Testing an Akka.Hosting app": in a namespace of the user's, as the page shows it.
namespace MyApp.Tests;

// <snippet:testing-akka-hosting>
public sealed class NotificationWiringSpecs(ITestOutputHelper output)
    : Akka.Hosting.TestKit.TestKit(nameof(NotificationWiringSpecs), output)
{
    private readonly InMemoryBroker _broker = new();

    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services)
    {
        // The app's own registrations (here one call; typically a method Program.cs shares) …
        services.AddRabbitMqChannelLayer(options => options.Host = "amqp://rabbit.invalid/asgi", "notifications");
        // … then the layers come from the in-memory broker: no RabbitMQ needed.
        services.ReplaceChannelLayers((system, name, options) => _broker.CreateLayer(system));
    }

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider)
    {
    }

    [Fact]
    public async Task A_group_message_reaches_every_member()
    {
        var ct = TestContext.Current.CancellationToken;
        var layer = Host.Services.GetRequiredKeyedService<IChannelLayer>("notifications");
        var channel = await layer.NewChannelAsync(cancellationToken: ct);
        await layer.GroupAddAsync("admins", channel, ct);

        await layer.GroupSendAsync("admins", new Dictionary<string, object?> { ["type"] = "alert", ["text"] = "disk full" }, ct);

        var message = await layer.ReceiveAsync(channel, ct).WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal("disk full", message["text"]);
    }
}
// </snippet:testing-akka-hosting>
