namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Send and receive typed messages (records mapped by <see cref="ChannelMessage"/>) on any
/// <see cref="IChannelLayer"/>. A dictionary typed as <c>IReadOnlyDictionary&lt;string, object?&gt;</c>
/// (or <c>Dictionary&lt;string, object?&gt;</c>) still binds to the layer's own methods: C# prefers
/// an applicable instance method to an extension method.
/// </summary>
public static class TypedChannelLayerExtensions
{
    /// <summary>Maps <paramref name="message"/> with <see cref="ChannelMessage.From{T}"/> and sends it to a channel.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">The destination channel.</param>
    /// <param name="message">A record, class or struct (or a dictionary with string keys).</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <exception cref="ArgumentException"><paramref name="message"/> cannot be mapped (see <see cref="ChannelMessage.From{T}"/>); nothing is sent.</exception>
    public static Task SendAsync<T>(this IChannelLayer layer, string channel, T message, CancellationToken cancellationToken = default)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.SendAsync(channel, Map(message), cancellationToken);
    }

    /// <summary>Maps <paramref name="message"/> with <see cref="ChannelMessage.From{T}"/> and sends it to every channel of a group.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="group">The destination group.</param>
    /// <param name="message">A record, class or struct (or a dictionary with string keys).</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <exception cref="ArgumentException"><paramref name="message"/> cannot be mapped (see <see cref="ChannelMessage.From{T}"/>); nothing is sent.</exception>
    public static Task GroupSendAsync<T>(this IChannelLayer layer, string group, T message, CancellationToken cancellationToken = default)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.GroupSendAsync(group, Map(message), cancellationToken);
    }

    /// <summary>
    /// Waits for the next message on one of the layer's own channels and maps it to
    /// <typeparamref name="T"/> with <see cref="ChannelMessage.To{T}"/>.
    /// </summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">One of the layer's own channels.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ChannelMessageFormatException">The message received is not a <typeparamref name="T"/>
    /// (another <c>"type"</c>, a missing key, …). It has been taken from the channel:
    /// <see cref="ChannelMessageFormatException.SourceMessage"/> holds it.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be read from a message; thrown at once, before
    /// waiting (as are the <c>Send</c> methods' mapping errors, before anything is sent).</exception>
    public static Task<T> ReceiveAsync<T>(this IChannelLayer layer, string channel, CancellationToken cancellationToken = default)
    {
        // Checked on the caller's thread, as the layer checks its arguments.
        ArgumentNullException.ThrowIfNull(layer);
        CheckReadable(typeof(T));
        return ReceiveAndMapAsync<T>(layer, channel, cancellationToken);
    }

    private static async Task<T> ReceiveAndMapAsync<T>(IChannelLayer layer, string channel, CancellationToken cancellationToken)
    {
        var message = await layer.ReceiveAsync(channel, cancellationToken).ConfigureAwait(false);
        return ChannelMessage.To<T>(message);
    }

    private static IReadOnlyDictionary<string, object?> Map<T>(T message)
    {
        if (message is null) throw new ArgumentNullException(nameof(message));
        return MessageWriter.WriteMessage(message, nameof(message));
    }

    // A type that can never be read would otherwise be found out only after a message is taken.
    internal static void CheckReadable(Type type)
    {
        var model = TypeModel.For(type);
        string? problem = model.Kind switch
        {
            ValueKind.Record => model.Shape!.DefinitionError ?? model.Shape.MessageError ?? model.Shape.ReadError,
            ValueKind.Map => model.ReadProblem,
            ValueKind.Object => null,
            _ => "a channel message is a map: read a record (or class, or struct), or a dictionary with string keys",
        };
        if (problem is not null)
            throw new ArgumentException($"{TypeNames.Describe(type)} cannot be read from a channel message: {problem}.");
    }
}
