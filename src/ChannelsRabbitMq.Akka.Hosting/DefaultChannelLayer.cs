namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The <see cref="global::Akka.Hosting.ActorRegistry"/> key of the default layer's actor (the
/// layer configured with the name <see cref="Name"/>): inject
/// <c>IRequiredActor&lt;DefaultChannelLayer&gt;</c> and <c>Ask</c> it
/// <see cref="ChannelLayerProtocol"/> messages. Only a key: never instantiated.
/// </summary>
/// <remarks>
/// The registry is keyed by type, so only the default layer is in it; reach named layers with
/// <see cref="IChannelLayers.Get"/> (their <see cref="IActorChannelLayer.Actor"/>).
/// </remarks>
public sealed class DefaultChannelLayer
{
    /// <summary>The name of the default layer, used when a layer is configured without one.</summary>
    public const string Name = "default";

    private DefaultChannelLayer()
    {
    }

    /// <summary>Whether <paramref name="name"/> names the default layer (layer names ignore case).</summary>
    internal static bool IsDefault(string name) => string.Equals(name, Name, StringComparison.OrdinalIgnoreCase);
}
