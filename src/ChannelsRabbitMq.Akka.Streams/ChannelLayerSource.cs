using Akka;
using Akka.Streams.Dsl;

namespace ChannelsRabbitMq.Akka.Streams;

/// <summary>
/// A channel of a <see cref="IChannelLayer"/> as an Akka.Streams <see cref="Source{TOut,TMat}"/>.
/// Back-pressure means what it says: the source takes a message from the channel only when
/// downstream asks for one, so a slow stream leaves messages in the channel, where the layer's
/// rules apply (local buffer, <c>LocalExpiry</c>, then the queue and its <c>RemoteCapacity</c>).
/// </summary>
/// <remarks>
/// A message the source has pushed belongs to the stream: stages that buffer (an async
/// boundary, <c>Buffer</c>, <c>Grouped</c>) hold messages taken from the channel, and drop them
/// if the stream is cancelled. The source itself loses nothing when it stops: the receive it
/// waits on is cancelled, and a message handed over in that instant goes back to the head of
/// the channel.
/// </remarks>
public static class ChannelLayerSource
{
    /// <summary>
    /// The messages of <paramref name="channel"/> (one of <paramref name="layer"/>'s own), in
    /// order. Completes when the layer closes; fails if the layer failed.
    /// </summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">One of the layer's own channels (<c>NewChannelAsync</c>); one reader at a time.</param>
    public static Source<IReadOnlyDictionary<string, object?>, NotUsed> Create(IChannelLayer layer, string channel)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Names.ValidateChannel(channel);
        return Source.FromGraph(new ChannelSourceStage(layer, channel));
    }

    /// <summary>
    /// The messages of <paramref name="channel"/> mapped to <typeparamref name="T"/>
    /// (<see cref="ChannelMessage.To{T}"/>). A message that is not a <typeparamref name="T"/> fails
    /// the stream with <see cref="ChannelMessageFormatException"/> (that message has been taken).
    /// </summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">One of the layer's own channels.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be read from a message.</exception>
    public static Source<T, NotUsed> Create<T>(IChannelLayer layer, string channel)
    {
        TypedChannelLayerExtensions.CheckReadable(typeof(T));
        return Create(layer, channel).Select(ChannelMessage.To<T>);
    }
}
