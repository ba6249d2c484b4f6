namespace ChannelsRabbitMq.Akka;

/// <summary>A snapshot of a layer's state and counters since it started.</summary>
/// <param name="QueueName">The layer's queue.</param>
/// <param name="Closed">Whether the layer has been closed.</param>
/// <param name="Connected">
/// Whether the layer is connected (queue declared, bindings replayed) right now: false from the
/// moment the transport reports its connection lost, before the layer has reacted to it.
/// </param>
/// <param name="DisconnectedSince">When the layer last lost (or has not yet made) its connection; null while connected.</param>
/// <param name="Reconnects">Connections established after the first.</param>
/// <param name="MessagesSent">Sends and group sends the broker confirmed.</param>
/// <param name="MessagesReceived">Messages handed to a receiver or subscriber.</param>
/// <param name="GroupFanOutDeliveries">Local copies made of group messages (one per local member).</param>
/// <param name="ChannelFull">Sends refused because the destination queue was full (group sends included).</param>
/// <param name="ExpiredLocally">Messages dropped because nobody received them within the local expiry.</param>
/// <param name="DroppedNoRecipient">Group messages that arrived when the group had no local member, and messages for a channel this layer cannot own.</param>
/// <param name="Malformed">Deliveries dropped because their body was not a valid message, or was larger than <c>MaxMessageSize</c>.</param>
/// <param name="LocalBacklog">Deliveries held in memory, not yet acked (at most <c>LocalCapacity</c>).</param>
/// <param name="LiveChannels">Channels with buffered messages, waiting receivers or a subscriber.</param>
/// <param name="BiggestBuffers">The channels with the most buffered messages, biggest first (refreshed about every second).</param>
/// <param name="LastConnectionError">
/// Why the latest connection attempt failed, with the fix where known (no password); null while
/// connected and before any attempt failed.
/// </param>
/// <param name="LastConnectionErrorSince">Since when attempts have been failing for that cause; null with <paramref name="LastConnectionError"/>.</param>
public sealed record ChannelLayerStatistics(
    string QueueName,
    bool Closed,
    bool Connected,
    DateTimeOffset? DisconnectedSince,
    long Reconnects,
    long MessagesSent,
    long MessagesReceived,
    long GroupFanOutDeliveries,
    long ChannelFull,
    long ExpiredLocally,
    long DroppedNoRecipient,
    long Malformed,
    int LocalBacklog,
    int LiveChannels,
    IReadOnlyList<KeyValuePair<string, int>> BiggestBuffers,
    string? LastConnectionError = null,
    DateTimeOffset? LastConnectionErrorSince = null)
{
    /// <summary>
    /// Why the layer failed and closed itself (one of its actors whose state cannot be rebuilt
    /// failed), or null. A failed layer is also <see cref="Closed"/>.
    /// </summary>
    public string? Failure { get; init; }

    /// <summary>
    /// Redeliveries (after a reconnect) of messages this layer had already handed over before the
    /// connection was lost, dropped so that nothing is received twice.
    /// </summary>
    public long DuplicatesSuppressed { get; init; }

    /// <summary>
    /// Sends and group sends whose connection closed before the broker confirmed them: they may or
    /// may not have arrived, and are never sent twice (at-most-once). Each is logged ("it may be lost").
    /// </summary>
    public long LostWithConnection { get; init; }

    /// <summary>Deliveries dropped on purpose by a test's fault (<c>ChannelLayerFaults.DropNextDeliveries</c>); 0 outside tests.</summary>
    public long DroppedSimulated { get; init; }
}
