using Akka.Actor;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A channel layer that also speaks to actors: push delivery to a subscribed actor, an actor
/// that answers <see cref="ChannelLayerProtocol"/> messages, and a statistics snapshot.
/// </summary>
public interface IActorChannelLayer : IChannelLayer
{
    /// <summary>The layer's actor, answering <see cref="ChannelLayerProtocol"/> messages.</summary>
    IActorRef Actor { get; }

    /// <summary>
    /// Pushes every message of one of this layer's channels to <paramref name="subscriber"/> as a
    /// <see cref="ChannelLayerProtocol.Received"/>, in FIFO order. A message counts as delivered
    /// (and is acked) once told. Messages already buffered for the channel are told first. A
    /// channel has at most one subscriber; <c>ReceiveAsync</c> on a subscribed channel throws
    /// <see cref="InvalidOperationException"/>. The subscription ends when the subscriber
    /// terminates or with <see cref="UnsubscribeAsync"/>.
    /// </summary>
    Task SubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default);

    /// <summary>Ends a subscription; does nothing if <paramref name="subscriber"/> is not subscribed.</summary>
    Task UnsubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the layer's state and counters.</summary>
    ChannelLayerStatistics GetStatistics();
}
