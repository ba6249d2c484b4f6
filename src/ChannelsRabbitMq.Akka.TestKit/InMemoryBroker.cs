using System.Diagnostics;
using Akka.Actor;
using ChannelsRabbitMq.Akka.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// An in-memory stand-in for one RabbitMQ virtual host, emulating exactly the AMQP a channel
/// layer uses. Layers created from one broker (<see cref="CreateLayer"/>) can message each other
/// as separate server processes sharing a RabbitMQ would; layers of different brokers cannot.
/// Thread-safe.
/// </summary>
/// <remarks>
/// <para>What is emulated, as RabbitMQ does it:</para>
/// <list type="bullet">
/// <item>the default exchange (routing key = queue name) and direct exchanges with bindings; a
/// message nobody is bound to is dropped, and its publish still succeeds;</item>
/// <item>queues with <c>x-max-length</c> and <c>x-overflow=reject-publish</c> (only ready messages
/// count; a publish refused by a full queue is nacked, which the layer turns into
/// <see cref="ChannelFullException"/>, while the other queues it was routed to still get it),
/// <c>x-message-ttl</c> (a message waiting longer is dropped before delivery) and
/// <c>x-expires</c>;</item>
/// <item>exclusive queues, deleted with their connection; a passive declare finds a queue held by
/// another connection, and declaring or consuming it fails (RESOURCE_LOCKED);</item>
/// <item>consumers with manual acks and <c>basic.qos</c> prefetch, in order; a message requeued after
/// a lost delivery comes back flagged <c>redelivered</c>; trace headers travel with the message; an ack of an unknown
/// delivery tag, or a publish to a missing exchange, closes the connection as the broker's
/// channel error would;</item>
/// <item>connections that the broker drops (<see cref="DropAllConnections"/>,
/// <see cref="ChannelLayerFaults.DropConnectionAsync"/>): exclusive queues and their messages
/// are gone, unacked messages of surviving queues are requeued.</item>
/// </list>
/// <para>
/// Deliveries and disconnection notices run on one dedicated path per connection, in order, and
/// never while the broker holds its lock. Like RabbitMQ.Client, a delivery's body is valid only
/// during the delivery callback (it is overwritten afterwards, so a layer that kept it would see
/// garbage).
/// </para>
/// </remarks>
public sealed class InMemoryBroker
{
    private static int _brokerCount;

    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, HashSet<string>>> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BrokerQueue> _queues = new(StringComparer.Ordinal);
    private readonly HashSet<InMemoryConnection> _connections = [];
    private long _messageSequence;

    /// <summary>Creates an empty broker.</summary>
    /// <param name="name">A name for log lines (<c>amqp://in-memory/{name}</c>); by default <c>broker-{n}</c>.</param>
    public InMemoryBroker(string? name = null)
    {
        Name = string.IsNullOrEmpty(name) ? $"broker-{Interlocked.Increment(ref _brokerCount)}" : name;
    }

    /// <summary>The broker's name, as shown in the layers' log lines (<c>amqp://in-memory/{Name}</c>).</summary>
    public string Name { get; }

    /// <summary>What the layers' <c>Host</c> option is set to: a valid AMQP URI naming this broker, for their log lines.</summary>
    internal string HostForLogs => $"amqp://in-memory/{Uri.EscapeDataString(Name)}";

    /// <summary>
    /// Starts a channel layer on this broker: the same actors as <see cref="RabbitMqChannelLayer"/>,
    /// talking to this broker instead of RabbitMQ. It connects in the background, as the real one does.
    /// </summary>
    /// <param name="system">The actor system the layer's actors run in.</param>
    /// <param name="configure">
    /// Sets options; they mean what they mean for RabbitMQ (<c>RemoteCapacity</c>, <c>Expiry</c>,
    /// <c>LocalCapacity</c>, <c>QueueName</c>, <c>ReconnectDelay</c>...). <c>Host</c> and <c>Tls</c>
    /// are ignored (<c>Host</c> is set to <c>amqp://in-memory/{Name}</c>, which the log lines show).
    /// </param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public InMemoryChannelLayer CreateLayer(ActorSystem system, Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        var options = new RabbitMqChannelLayerOptions();
        configure?.Invoke(options);
        options.Host = HostForLogs;
        options.Tls = null;
        var faults = new ChannelLayerFaults(static (session, _) =>
        {
            ((InMemoryConnection)session).Drop("CONNECTION_FORCED - closed by the in-memory broker (simulated)");
            return Task.FromResult(ConnectionDropSide.Broker);
        });
        var transport = new FaultInjectingTransport(Task.FromResult<IAmqpTransport>(new InMemoryTransport(this)), faults);
        var layer = new RabbitMqChannelLayer(system, options, transport);
        faults.AttachLayer(layer, system);
        return new InMemoryChannelLayer(this, layer, faults);
    }

    /// <summary>Open connections (one per connected layer).</summary>
    public int ConnectionCount
    {
        get { lock (_gate) return _connections.Count; }
    }

    /// <summary>The names of the queues that exist now.</summary>
    public IReadOnlyCollection<string> QueueNames
    {
        get { lock (_gate) return _queues.Keys.ToArray(); }
    }

    /// <summary>True when a queue of that name exists.</summary>
    public bool QueueExists(string queue)
    {
        lock (_gate) return _queues.ContainsKey(queue);
    }

    /// <summary>Messages of <paramref name="queue"/> ready for delivery (not counting unacked ones, nor expired ones); 0 when it does not exist.</summary>
    public int ReadyCount(string queue)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(queue, out var q)) return 0;
            q.PurgeExpired();
            return q.Ready.Count;
        }
    }

    /// <summary>The routing keys (group names) binding <paramref name="queue"/> to <paramref name="exchange"/>.</summary>
    public IReadOnlyCollection<string> BindingKeys(string queue, string exchange = "groups")
    {
        lock (_gate)
        {
            if (!_exchanges.TryGetValue(exchange, out var bindings)) return [];
            return bindings.Where(b => b.Value.Contains(queue)).Select(b => b.Key).Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>
    /// Drops every open connection as a broker restart would: each layer is told its connection
    /// was lost, exclusive queues (and their messages) are deleted, and the layers reconnect.
    /// </summary>
    /// <returns>How many connections were dropped.</returns>
    public int DropAllConnections(string reason = "CONNECTION_FORCED - broker restart (simulated)")
    {
        InMemoryConnection[] connections;
        lock (_gate) connections = _connections.ToArray();
        foreach (var connection in connections) connection.Drop(reason);
        return connections.Length;
    }

    // ------------------------------------------------------------------ the emulation (under _gate)

    internal object Gate => _gate;

    internal InMemoryConnection Connect(AmqpSessionHandlers handlers)
    {
        var connection = new InMemoryConnection(this, handlers);
        lock (_gate) _connections.Add(connection);
        return connection;
    }

    internal bool QueueExistsLocked(string queue) => _queues.ContainsKey(queue);

    internal void DeclareExchangeLocked(string exchange)
    {
        if (exchange.Length == 0) throw InMemoryAmqpException.Create(403, "ACCESS_REFUSED - operation not permitted on the default exchange");
        if (!_exchanges.ContainsKey(exchange)) _exchanges.Add(exchange, new Dictionary<string, HashSet<string>>(StringComparer.Ordinal));
    }

    internal void DeclareQueueLocked(InMemoryConnection connection, QueueDeclaration declaration)
    {
        if (_queues.TryGetValue(declaration.Name, out var existing))
        {
            existing.ThrowIfLockedFor(connection);
            if (existing.MaxLength != declaration.MaxLength || existing.Ttl != declaration.MessageTtl ||
                existing.Expires != declaration.Expires || existing.Exclusive != declaration.Exclusive)
                throw InMemoryAmqpException.Create(406, $"PRECONDITION_FAILED - inequivalent arguments for queue '{declaration.Name}'");
            existing.Touch(this);
            return;
        }
        var queue = new BrokerQueue(declaration, declaration.Exclusive ? connection : null);
        _queues.Add(queue.Name, queue);
        queue.Touch(this);
    }

    internal void BindLocked(InMemoryConnection connection, string queue, string exchange, string routingKey)
    {
        if (!_queues.TryGetValue(queue, out var q)) throw InMemoryAmqpException.Create(404, $"NOT_FOUND - no queue '{queue}'");
        q.ThrowIfLockedFor(connection);
        if (!_exchanges.TryGetValue(exchange, out var bindings)) throw InMemoryAmqpException.Create(404, $"NOT_FOUND - no exchange '{exchange}'");
        if (!bindings.TryGetValue(routingKey, out var queues)) bindings.Add(routingKey, queues = new HashSet<string>(StringComparer.Ordinal));
        queues.Add(queue);
    }

    internal void UnbindLocked(string queue, string exchange, string routingKey)
    {
        if (!_exchanges.TryGetValue(exchange, out var bindings) || !bindings.TryGetValue(routingKey, out var queues)) return;
        queues.Remove(queue);
        if (queues.Count == 0) bindings.Remove(routingKey);
    }

    internal Consumer ConsumeLocked(InMemoryConnection connection, string queue, ushort prefetch, bool exclusive)
    {
        if (!_queues.TryGetValue(queue, out var q)) throw InMemoryAmqpException.Create(404, $"NOT_FOUND - no queue '{queue}'");
        q.ThrowIfLockedFor(connection);
        if (q.Consumers.Any(c => c.Exclusive) || (exclusive && q.Consumers.Count > 0))
            throw InMemoryAmqpException.Create(403, $"ACCESS_REFUSED - queue '{queue}' in exclusive use");
        var consumer = new Consumer(connection, q, prefetch, exclusive);
        q.Consumers.Add(consumer);
        q.Touch(this);
        PumpLocked(q);
        return consumer;
    }

    /// <summary>Routes a message; returns false when a full queue refused it (a nack).</summary>
    internal bool PublishLocked(InMemoryConnection connection, string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace)
    {
        IEnumerable<BrokerQueue> targets;
        if (exchange.Length == 0)
        {
            targets = _queues.TryGetValue(routingKey, out var q) ? [q] : [];
        }
        else if (_exchanges.TryGetValue(exchange, out var bindings))
        {
            targets = bindings.TryGetValue(routingKey, out var names)
                ? names.Select(n => _queues[n]).ToArray()
                : [];
        }
        else
        {
            // RabbitMQ closes the publishing channel (404), which the layer sees as a lost session.
            connection.DropLocked($"NOT_FOUND - no exchange '{exchange}' (channel closed by the in-memory broker)");
            return true;
        }

        var accepted = true;
        byte[]? stored = null;
        foreach (var queue in targets)
        {
            queue.PurgeExpired();
            if (queue.Ready.Count >= queue.MaxLength)
            {
                accepted = false; // reject-publish: the others still get it
                continue;
            }
            stored ??= body.ToArray();
            queue.Ready.AddLast(new StoredMessage(stored, trace, Stopwatch.GetTimestamp(), ++_messageSequence));
            PumpLocked(queue);
        }
        return accepted;
    }

    internal void DeleteQueueLocked(InMemoryConnection connection, string queue)
    {
        if (!_queues.TryGetValue(queue, out var q)) return;
        q.ThrowIfLockedFor(connection);
        RemoveQueueLocked(q, deletedBy: connection);
    }

    /// <summary>Delivers what the queue's consumers have room for, in order; posts the deliveries to their connections.</summary>
    internal void PumpLocked(BrokerQueue queue)
    {
        while (queue.Consumers.Count > 0)
        {
            queue.PurgeExpired();
            if (queue.Ready.First is not { } first) return;
            var consumer = queue.NextConsumerWithRoom();
            if (consumer is null) return;
            queue.Ready.RemoveFirst();
            consumer.Connection.DeliverLocked(consumer, first.Value);
        }
    }

    /// <summary>The broker side of a connection's end: its consumers go, its exclusive queues are deleted.</summary>
    internal void ConnectionClosedLocked(InMemoryConnection connection, Consumer? consumer)
    {
        _connections.Remove(connection);
        if (consumer is not null && _queues.TryGetValue(consumer.Queue.Name, out var consumed) && consumed == consumer.Queue)
        {
            consumed.Consumers.Remove(consumer);
            if (consumed.Owner != connection)
            {
                consumed.Requeue(consumer.Unacked.Values);
                consumed.Touch(this);
                PumpLocked(consumed);
            }
        }
        consumer?.Unacked.Clear();
        foreach (var queue in _queues.Values.Where(q => q.Owner == connection).ToArray())
            RemoveQueueLocked(queue, deletedBy: connection);
    }

    internal void ExpireQueue(BrokerQueue queue, long generation)
    {
        lock (_gate)
        {
            if (queue.Generation != generation || queue.Consumers.Count > 0) return;
            if (_queues.TryGetValue(queue.Name, out var current) && current == queue) RemoveQueueLocked(queue, deletedBy: null);
        }
    }

    private void RemoveQueueLocked(BrokerQueue queue, InMemoryConnection? deletedBy)
    {
        _queues.Remove(queue.Name);
        queue.Generation++;
        foreach (var bindings in _exchanges.Values)
        {
            foreach (var (key, queues) in bindings.ToArray())
            {
                if (queues.Remove(queue.Name) && queues.Count == 0) bindings.Remove(key);
            }
        }
        foreach (var consumer in queue.Consumers.ToArray())
        {
            queue.Consumers.Remove(consumer);
            consumer.Unacked.Clear();
            // The broker cancels the consumers of a deleted queue: expected by the connection that
            // deleted it, a lost session for anyone else (as RabbitMqSession reports it).
            if (consumer.Connection != deletedBy)
                consumer.Connection.DropLocked($"the broker cancelled the consumer: queue '{queue.Name}' was deleted");
            else
                consumer.Connection.ConsumerCancelledLocked(consumer);
        }
        queue.Ready.Clear();
    }
}

/// <summary>
/// A message in a queue: the body (shared by the queues it was routed to), its trace headers (AMQP
/// headers <c>traceparent</c>/<c>tracestate</c>), when it was enqueued, its global order, and whether
/// it was requeued after a delivery that was not acked (RabbitMQ's <c>redelivered</c> flag).
/// </summary>
internal sealed record StoredMessage(byte[] Body, TraceHeaders Trace, long EnqueuedAt, long Sequence, bool Redelivered = false);

/// <summary>A consumer: its connection's consume channel on one queue.</summary>
internal sealed class Consumer(InMemoryConnection connection, BrokerQueue queue, ushort prefetch, bool exclusive)
{
    public InMemoryConnection Connection { get; } = connection;
    public BrokerQueue Queue { get; } = queue;
    public ushort Prefetch { get; } = prefetch;
    public bool Exclusive { get; } = exclusive;
    public Dictionary<ulong, StoredMessage> Unacked { get; } = [];

    public bool HasRoom => Prefetch == 0 || Unacked.Count < Prefetch;
}

/// <summary>One queue of the in-memory broker. Every member is used under the broker's lock.</summary>
internal sealed class BrokerQueue(QueueDeclaration declaration, InMemoryConnection? owner)
{
    private int _nextConsumer;

    public string Name { get; } = declaration.Name;
    public int MaxLength { get; } = declaration.MaxLength;
    public TimeSpan Ttl { get; } = declaration.MessageTtl;
    public TimeSpan? Expires { get; } = declaration.Expires;
    public bool Exclusive => declaration.Exclusive;

    /// <summary>The connection an exclusive queue belongs to; null for a shared one.</summary>
    public InMemoryConnection? Owner { get; } = owner;

    public LinkedList<StoredMessage> Ready { get; } = new();
    public List<Consumer> Consumers { get; } = [];

    /// <summary>Bumped whenever the queue is used or deleted: a pending x-expires check of an older generation does nothing.</summary>
    public long Generation { get; set; }

    public void ThrowIfLockedFor(InMemoryConnection connection)
    {
        if (Owner is not null && Owner != connection)
            throw InMemoryAmqpException.Create(405, $"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{Name}'");
    }

    /// <summary>Drops ready messages older than the TTL (they expire in order: one TTL for the queue).</summary>
    public void PurgeExpired()
    {
        while (Ready.First is { } first && Stopwatch.GetElapsedTime(first.Value.EnqueuedAt) >= Ttl) Ready.RemoveFirst();
    }

    /// <summary>Puts messages delivered but not acked back in the queue, in their original order, flagged redelivered.</summary>
    public void Requeue(IEnumerable<StoredMessage> messages)
    {
        foreach (var delivered in messages.OrderByDescending(m => m.Sequence))
        {
            var message = delivered with { Redelivered = true };
            var node = Ready.First;
            while (node is not null && node.Value.Sequence < message.Sequence) node = node.Next;
            if (node is null) Ready.AddLast(message);
            else Ready.AddBefore(node, message);
        }
    }

    /// <summary>Round robin over the consumers that have room under their prefetch.</summary>
    public Consumer? NextConsumerWithRoom()
    {
        for (var i = 0; i < Consumers.Count; i++)
        {
            var consumer = Consumers[(_nextConsumer + i) % Consumers.Count];
            if (!consumer.HasRoom) continue;
            _nextConsumer = (_nextConsumer + i + 1) % Consumers.Count;
            return consumer;
        }
        return null;
    }

    /// <summary>The queue is used: an unused queue with <c>x-expires</c> is deleted after that long.</summary>
    public void Touch(InMemoryBroker broker)
    {
        var generation = ++Generation;
        if (Expires is not { } expires || Consumers.Count > 0) return;
        _ = Task.Delay(expires).ContinueWith(_ => broker.ExpireQueue(this, generation), TaskScheduler.Default);
    }
}

/// <summary>
/// The channel errors of the in-memory broker, raised as RabbitMQ.Client raises the broker's: an
/// <see cref="OperationInterruptedException"/> whose shutdown reason carries the AMQP reply code
/// and text, so code that inspects them (e.g. 403 ACCESS_REFUSED for an exclusive consume) behaves
/// the same on both.
/// </summary>
internal static class InMemoryAmqpException
{
    public static OperationInterruptedException Create(ushort code, string text) =>
        new(new ShutdownEventArgs(ShutdownInitiator.Peer, code, $"{text} (in-memory broker)"));
}

/// <summary><see cref="IAmqpTransport"/> onto an <see cref="InMemoryBroker"/>.</summary>
internal sealed class InMemoryTransport(InMemoryBroker broker) : IAmqpTransport
{
    public Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult<IAmqpSession>(broker.Connect(handlers));
    }
}
