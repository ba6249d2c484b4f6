using System.Threading.Channels;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// One connection to an <see cref="InMemoryBroker"/>, as the layer's session. Broker state
/// changes under the broker's lock; deliveries and the disconnection notice are posted (under the
/// lock, so in order) to this connection's own dispatch loop, which calls the layer's handlers
/// without holding any lock.
/// </summary>
internal sealed class InMemoryConnection : IAmqpSession
{
    private readonly InMemoryBroker _broker;
    private readonly AmqpSessionHandlers _handlers;
    private readonly Channel<Action> _dispatch = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private Consumer? _consumer;
    private bool _consumeStarted;
    private ulong _nextDeliveryTag;
    private volatile bool _open = true;

    public InMemoryConnection(InMemoryBroker broker, AmqpSessionHandlers handlers)
    {
        _broker = broker;
        _handlers = handlers;
        _ = Task.Run(DispatchLoopAsync);
    }

    public InMemoryBroker Broker => _broker;

    public RabbitMQ.Client.IConnection? Connection => null;

    public bool IsOpen => _open;

    /// <summary>Drops the connection from the broker's side: the layer is told it was lost.</summary>
    public void Drop(string reason)
    {
        lock (_broker.Gate) DropLocked(reason);
    }

    public Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken) =>
        Locked(() => _broker.QueueExistsLocked(queue));

    public Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken) =>
        Locked(() => _broker.DeclareExchangeLocked(exchange));

    public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken) =>
        Locked(() => _broker.DeclareQueueLocked(this, queue));

    public Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        Locked(() => _broker.BindLocked(this, queue, exchange, routingKey));

    public Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        Locked(() => _broker.UnbindLocked(queue, exchange, routingKey));

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) =>
        Locked(() => _broker.DeleteQueueLocked(this, queue));

    public Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken) =>
        Locked(() =>
        {
            if (_consumeStarted) throw new InvalidOperationException("This session is already consuming.");
            _consumeStarted = true;
            _consumer = _broker.ConsumeLocked(this, queue, prefetch, exclusive);
        });

    public Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken)
    {
        lock (_broker.Gate)
        {
            if (!_open) return Task.FromException(Lost($"publishing to exchange '{exchange}'"));
            var accepted = _broker.PublishLocked(this, exchange, routingKey, body, trace);
            if (!_open) return Task.FromException(Lost($"publishing to exchange '{exchange}'"));
            return accepted
                ? Task.CompletedTask
                : Task.FromException(new PublishRejectedException(
                    $"The in-memory broker refused the message published to exchange '{exchange}' with routing key '{routingKey}' (nack: the queue is full)."));
        }
    }

    public void Ack(ulong deliveryTag)
    {
        lock (_broker.Gate)
        {
            if (!_open) return;
            if (_consumer is null || !_consumer.Unacked.Remove(deliveryTag))
            {
                // RabbitMQ closes the channel on an unknown delivery tag; the layer loses its session.
                DropLocked($"PRECONDITION_FAILED - unknown delivery tag {deliveryTag} (channel closed by the in-memory broker)");
                return;
            }
            _broker.PumpLocked(_consumer.Queue);
        }
    }

    public Task CloseAsync()
    {
        lock (_broker.Gate)
        {
            if (!_open) return Task.CompletedTask;
            _open = false;
            _broker.ConnectionClosedLocked(this, _consumer);
            _consumer = null;
            _dispatch.Writer.TryComplete();
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    // ------------------------------------------------------------------ called by the broker under its lock

    /// <summary>
    /// Called synchronously (under the broker's lock) when the broker drops this connection, before
    /// the layer is told: lets the fault handle know at once. Must not call into the broker or the layer.
    /// </summary>
    internal Action? DroppedByBroker { get; set; }

    internal void DropLocked(string reason)
    {
        if (!_open) return;
        _open = false;
        DroppedByBroker?.Invoke();
        _broker.ConnectionClosedLocked(this, _consumer);
        _consumer = null;
        _dispatch.Writer.TryWrite(() => _handlers.OnDisconnected(this, reason));
        _dispatch.Writer.TryComplete();
    }

    internal void DeliverLocked(Consumer consumer, StoredMessage message)
    {
        var tag = ++_nextDeliveryTag;
        consumer.Unacked.Add(tag, message);
        _dispatch.Writer.TryWrite(() => Deliver(tag, message));
    }

    internal void ConsumerCancelledLocked(Consumer consumer)
    {
        if (_consumer == consumer) _consumer = null;
    }

    // ------------------------------------------------------------------ dispatch path (no lock held)

    private void Deliver(ulong tag, StoredMessage message)
    {
        if (!_open) return; // stale: a delivery of a connection that is gone cannot be acked
        // The layer gets its own buffer, valid only during the call (as RabbitMQ.Client's), and
        // scribbled over afterwards with 0xC1 (never used in msgpack) so that a layer keeping it
        // would fail loudly.
        var body = message.Body.ToArray();
        try
        {
            _handlers.OnDelivery(this, new InboundDelivery(tag, body, message.Redelivered, message.Trace));
        }
        finally
        {
            Array.Fill(body, (byte)0xC1);
        }
    }

    private async Task DispatchLoopAsync()
    {
        await foreach (var work in _dispatch.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                work();
            }
            catch (Exception ex)
            {
                // The layer's handlers do not throw; if one did, the broker must go on.
                Console.Error.WriteLine($"ChannelsRabbitMq.Akka.TestKit: a delivery handler failed: {ex}");
            }
        }
    }

    private Task Locked(Action operation) =>
        Locked(() =>
        {
            operation();
            return true;
        });

    private Task<T> Locked<T>(Func<T> operation)
    {
        lock (_broker.Gate)
        {
            if (!_open) return Task.FromException<T>(Lost("the operation"));
            try
            {
                return Task.FromResult(operation());
            }
            catch (Exception ex)
            {
                return Task.FromException<T>(ex);
            }
        }
    }

    private static ConnectionLostException Lost(string what) =>
        new($"The in-memory connection is closed (while {what}).");
}
