namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The channel layers of an application's <see cref="global::Akka.Actor.ActorSystem"/>, by the
/// name each was configured with (<c>AddRabbitMqChannelLayer(…, name)</c> or <c>WithRabbitMqChannelLayer(…, name)</c>;
/// names ignore case). Resolve it from DI or, inside an actor, with
/// <see cref="ChannelLayerRegistry.For"/>.
/// </summary>
public interface IChannelLayers
{
    /// <summary>The names of the configured layers, whether started yet or not.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>The layer called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No layer of that name is configured.</exception>
    /// <exception cref="InvalidOperationException">
    /// The layer is configured but not started yet: layers start with the ActorSystem's actors,
    /// when the host starts. Use <see cref="GetAsync"/> to wait for it.
    /// </exception>
    IActorChannelLayer Get(string name = DefaultChannelLayer.Name);

    /// <summary>The layer called <paramref name="name"/>, once it has started.</summary>
    /// <exception cref="ArgumentException">No layer of that name is configured.</exception>
    /// <exception cref="ChannelLayerClosedException">The ActorSystem terminated before the layer started.</exception>
    Task<IActorChannelLayer> GetAsync(string name = DefaultChannelLayer.Name, CancellationToken cancellationToken = default);
}
