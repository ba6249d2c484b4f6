namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A Django Channels channel layer: send to a channel, receive from one of this layer's own
/// channels, and fan out to groups of channels that may live in many processes.
/// Every member is thread-safe.
/// </summary>
public interface IChannelLayer : IAsyncDisposable
{
    /// <summary>The optional features this layer supports: <c>["groups"]</c>.</summary>
    IReadOnlyCollection<string> Extensions { get; }

    /// <summary>Creates a new process-specific channel name owned by this layer: <c>"{queue}!{prefix}.{random}"</c>.</summary>
    Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a message to a channel. Completes when the broker has accepted it.
    /// Throws <see cref="ChannelFullException"/> when the channel's queue is at capacity.
    /// </summary>
    Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default);

    /// <summary>Waits for the next message on one of this layer's own channels.</summary>
    Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default);

    /// <summary>Adds a channel to a group (idempotent). Completes once the group's binding exists.</summary>
    Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default);

    /// <summary>Removes a channel from a group; does nothing when it is not a member.</summary>
    Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default);

    /// <summary>Sends a message to every channel of a group, once each. A full queue drops the message with a warning.</summary>
    Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes the layer: from now on every call throws <see cref="ChannelLayerClosedException"/>,
    /// pending receives complete with it, and the connection closes. Idempotent.
    /// </summary>
    Task CloseAsync();
}
