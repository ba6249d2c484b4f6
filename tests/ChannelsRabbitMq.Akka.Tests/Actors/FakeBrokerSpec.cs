using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>Base of the actor specs: a layer over the in-memory <see cref="FakeAmqpTransport"/>.</summary>
public abstract class FakeBrokerSpec : global::Akka.TestKit.Xunit2.TestKit
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    protected FakeBrokerSpec(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    internal FakeAmqpTransport Broker { get; } = new();

    internal RabbitMqChannelLayer NewLayer(Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var options = new RabbitMqChannelLayerOptions { ReconnectDelay = TimeSpan.FromMilliseconds(50) };
        configure?.Invoke(options);
        return new RabbitMqChannelLayer(Sys, options, Broker);
    }

    protected static Dictionary<string, object?> Message(string text) => new() { ["type"] = "test.message", ["text"] = text };
}
