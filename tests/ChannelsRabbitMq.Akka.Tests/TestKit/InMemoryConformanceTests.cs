using ChannelsRabbitMq.Akka.TestKit;
using ChannelsRabbitMq.Akka.Tests.Integration;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// The conformance suite against the in-memory layer: one actor system and one
/// <see cref="InMemoryBroker"/> per test, so the test's layers message each other as the
/// RabbitMQ subclass's layers do through the shared broker.
/// </summary>
public sealed class InMemoryConformanceTests : ChannelLayerConformanceTests
{
    private readonly AkkaTestSystem _akka;
    private readonly InMemoryBroker _broker = new();

    public InMemoryConformanceTests(ITestOutputHelper output)
    {
        _akka = new AkkaTestSystem(output, Log);
    }

    protected override IChannelLayer NewLayer(LayerSettings settings) =>
        _broker.CreateLayer(_akka.System, o =>
        {
            o.LocalCapacity = settings.LocalCapacity;
            o.RemoteCapacity = settings.RemoteCapacity;
            o.Expiry = settings.Expiry;
            o.LocalExpiry = settings.LocalExpiry;
            o.GroupsExchange = settings.GroupsExchange;
            o.QueueName = settings.QueueName;
            o.ReconnectDelay = TimeSpan.FromMilliseconds(100);
        });

    protected override async Task DisposeResourcesAsync() => await _akka.DisposeAsync();
}
