using System.Runtime.CompilerServices;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A channel read as a stream (<see cref="IAsyncEnumerable{T}"/>) on any <see cref="IChannelLayer"/>:
/// for server-sent events (<c>TypedResults.ServerSentEvents</c>), long-polling, or any
/// <c>await foreach</c>. Each item is one <see cref="IChannelLayer.ReceiveAsync"/>, so the layer's
/// rules hold: one reader at a time gets each message, in the order sent; a receive that is
/// cancelled takes nothing.
/// </summary>
public static class ChannelLayerStreamExtensions
{
    /// <summary>
    /// The messages of <paramref name="channel"/>, as they arrive, until the layer closes (the
    /// enumeration then ends) or <paramref name="cancellationToken"/> (or the token given to
    /// <c>WithCancellation</c>) is cancelled (it then throws <see cref="OperationCanceledException"/>).
    /// </summary>
    /// <remarks>
    /// Nothing is lost when the enumeration stops: leaving an <c>await foreach</c> takes nothing
    /// more, and a cancelled wait takes nothing, so the next reader of the channel gets the next
    /// message, in order. An enumeration left waiting (neither finished nor cancelled) still
    /// takes the next message: pass a token that is cancelled when the reader goes away, such as
    /// <c>HttpContext.RequestAborted</c>.
    /// </remarks>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">One of the layer's own channels.</param>
    /// <param name="cancellationToken">Ends the wait for the next message.</param>
    /// <exception cref="ChannelLayerClosedException">Thrown by the enumeration if the layer failed (the
    /// exception's inner exception says why); an orderly close just ends it.</exception>
    public static IAsyncEnumerable<IReadOnlyDictionary<string, object?>> ReadAllAsync(this IChannelLayer layer, string channel,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(channel);
        return ReadAll(layer, channel, static message => message, cancellationToken);
    }

    /// <summary>
    /// The messages of <paramref name="channel"/> mapped to <typeparamref name="T"/> with
    /// <see cref="ChannelMessage.To{T}"/>, as <see cref="ReadAllAsync(IChannelLayer, string, CancellationToken)"/>.
    /// </summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">One of the layer's own channels.</param>
    /// <param name="cancellationToken">Ends the wait for the next message.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be read from a message; thrown at once.</exception>
    /// <exception cref="ChannelMessageFormatException">Thrown by the enumeration when a message is not a
    /// <typeparamref name="T"/>; that message has been taken (<see cref="ChannelMessageFormatException.SourceMessage"/>),
    /// and the next enumeration starts with the one after it.</exception>
    public static IAsyncEnumerable<T> ReadAllAsync<T>(this IChannelLayer layer, string channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(channel);
        TypedChannelLayerExtensions.CheckReadable(typeof(T));
        return ReadAll(layer, channel, ChannelMessage.To<T>, cancellationToken);
    }

    private static async IAsyncEnumerable<T> ReadAll<T>(IChannelLayer layer, string channel,
        Func<IReadOnlyDictionary<string, object?>, T> map, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            IReadOnlyDictionary<string, object?> message;
            try
            {
                message = await layer.ReceiveAsync(channel, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelLayerClosedException closed) when (closed.InnerException is null && !cancellationToken.IsCancellationRequested)
            {
                yield break; // an orderly close: the stream of this channel is over
            }
            yield return map(message);
        }
    }
}
