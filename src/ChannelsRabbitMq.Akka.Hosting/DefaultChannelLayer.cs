namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The <see cref="global::Akka.Hosting.ActorRegistry"/> key of the default layer's actor (the
/// layer configured with the name <see cref="Name"/>): inject
/// <c>IRequiredActor&lt;DefaultChannelLayer&gt;</c> and <c>Ask</c> it
/// <see cref="ChannelLayerProtocol"/> messages. Only a key: never instantiated.
/// </summary>
/// <remarks>
/// The registry is keyed by type, so a named layer is in it only under a marker type of the app's
/// (<c>AddRabbitMqChannelLayer&lt;TKey&gt;(…, name)</c>); every layer is reachable by name as a keyed
/// service or with <see cref="IChannelLayers.Get"/> (its <see cref="IActorChannelLayer.Actor"/>).
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
