using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// The conformance suite against the real broker (<c>scripts/broker.sh start</c>): one actor
/// system per test, whose log feeds <see cref="ChannelLayerConformanceTests.Log"/>.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class RabbitMqConformanceTests : ChannelLayerConformanceTests
{
    private readonly AkkaTestSystem _akka;

    public RabbitMqConformanceTests(ITestOutputHelper output)
    {
        _akka = new AkkaTestSystem(output, Log);
    }

    protected override IChannelLayer NewLayer(LayerSettings settings) =>
        new RabbitMqChannelLayer(_akka.System, new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.Url,
            LocalCapacity = settings.LocalCapacity,
            RemoteCapacity = settings.RemoteCapacity,
            Expiry = settings.Expiry,
            LocalExpiry = settings.LocalExpiry,
            GroupsExchange = settings.GroupsExchange,
            QueueName = settings.QueueName,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
        });

    protected override async Task DisposeResourcesAsync() => await _akka.DisposeAsync();
}
