using Akka.Actor;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// A channel layer that needs no RabbitMQ: the actors of <see cref="RabbitMqChannelLayer"/> over
/// an <see cref="InMemoryBroker"/>, so it has the same semantics by construction — process-specific
/// channel names, groups, <c>RemoteCapacity</c> (<see cref="ChannelFullException"/>),
/// <c>Expiry</c> and <c>LocalExpiry</c>, <c>LocalCapacity</c> back-pressure, close behaviour, FIFO
/// per channel, at-most-once, reconnection. Create it with <see cref="InMemoryBroker.CreateLayer"/>;
/// layers of one broker reach each other as separate processes on one RabbitMQ would.
/// Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var broker = new InMemoryBroker();
/// await using var layer = broker.CreateLayer(Sys, o => o.RemoteCapacity = 10);
/// var channel = await layer.NewChannelAsync();
/// await layer.SendAsync(channel, new Dictionary&lt;string, object?&gt; { ["type"] = "hello" });
/// var message = await layer.ReceiveAsync(channel);
/// </code>
/// </example>
public sealed class InMemoryChannelLayer : IActorChannelLayer, IReturnsUnreceived
{
    private readonly RabbitMqChannelLayer _layer;

    internal InMemoryChannelLayer(InMemoryBroker broker, RabbitMqChannelLayer layer, ChannelLayerFaults faults)
    {
        Broker = broker;
        _layer = layer;
        Faults = faults;
    }

    /// <summary>The broker this layer is connected to.</summary>
    public InMemoryBroker Broker { get; }

    /// <summary>Scripted failures of this layer's connection: drop it, hold the broker down, refuse sends, delay or drop deliveries.</summary>
    public ChannelLayerFaults Faults { get; }

    /// <summary>The layer's queue on the broker: the part before <c>!</c> of its channel names.</summary>
    public string QueueName => _layer.QueueName;

    /// <inheritdoc />
    public IActorRef Actor => _layer.Actor;

    /// <inheritdoc />
    public IReadOnlyCollection<string> Extensions => _layer.Extensions;

    /// <summary>
    /// Completes once the layer is connected: its queue declared, every group binding replayed and
    /// its consumer started. Waits while it (re)connects.
    /// </summary>
    public Task WaitForConnectionAsync(CancellationToken cancellationToken = default) => _layer.WaitForConnectionAsync(cancellationToken);

    /// <inheritdoc />
    public Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default) =>
        _layer.NewChannelAsync(prefix, cancellationToken);

    /// <inheritdoc />
    public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) =>
        _layer.SendAsync(channel, message, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default) =>
        _layer.ReceiveAsync(channel, cancellationToken);

    void IReturnsUnreceived.ReturnUnreceived(string channel, IReadOnlyDictionary<string, object?> message) =>
        ((IReturnsUnreceived)_layer).ReturnUnreceived(channel, message);

    /// <inheritdoc />
    public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default) =>
        _layer.GroupAddAsync(group, channel, cancellationToken);

    /// <inheritdoc />
    public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default) =>
        _layer.GroupDiscardAsync(group, channel, cancellationToken);

    /// <inheritdoc />
    public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) =>
        _layer.GroupSendAsync(group, message, cancellationToken);

    /// <inheritdoc />
    public Task SubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default) =>
        _layer.SubscribeAsync(channel, subscriber, cancellationToken);

    /// <inheritdoc />
    public Task UnsubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default) =>
        _layer.UnsubscribeAsync(channel, subscriber, cancellationToken);

    /// <inheritdoc />
    public ChannelLayerStatistics GetStatistics() => _layer.GetStatistics();

    /// <inheritdoc />
    public Task CloseAsync() => _layer.CloseAsync();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _layer.DisposeAsync();

    /// <inheritdoc />
    public override string ToString() => $"InMemoryChannelLayer {QueueName} on {Broker.Name}";
}
