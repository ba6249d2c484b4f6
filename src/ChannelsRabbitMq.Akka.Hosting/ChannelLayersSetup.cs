using Akka.Actor.Setup;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The layers configured on an <see cref="global::Akka.Hosting.AkkaConfigurationBuilder"/>,
/// handed to the ActorSystem so that <see cref="ChannelLayerRegistry"/> knows every configured
/// name before the layers start: a name that is configured but not started yet can then be
/// waited for, and a misspelt one fails at once instead.
/// </summary>
internal sealed class ChannelLayersSetup : Setup
{
    private readonly Dictionary<string, RabbitMqChannelLayerOptions> _layers = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, RabbitMqChannelLayerOptions> Layers => _layers;

    /// <exception cref="InvalidOperationException">A layer of that name is already configured.</exception>
    public void Add(string name, RabbitMqChannelLayerOptions options)
    {
        if (!_layers.TryAdd(name, options))
            throw new InvalidOperationException(
                $"A channel layer named '{name}' is already configured: WithRabbitMqChannelLayer was called twice with that name " +
                "(layer names ignore case). Give each layer its own name.");
    }
}
