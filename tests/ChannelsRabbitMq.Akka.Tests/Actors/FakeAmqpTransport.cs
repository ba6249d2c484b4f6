using System.Collections.Concurrent;
using System.Threading.Channels;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// An in-memory broker behind the transport seam, for actor specs: one queue per declared name,
/// a direct groups exchange, publisher confirms, prefetch and acks. Tests drive failures:
/// refused connections, a queue name held elsewhere, nacks, and a dropped connection.
/// </summary>
internal sealed class FakeAmqpTransport : IAmqpTransport
{
    private readonly object _gate = new();
    private readonly Channel<FakeSession> _connections = Channel.CreateUnbounded<FakeSession>();
    private int _refuseConnects;
    private int _conflicts;
    private int _nacks;
    private int _failBinds;
    private readonly Queue<Action<FakeSession>> _prepareNext = new();

    public FakeSession? Current { get; private set; }

    public int ConnectAttempts { get; private set; }

    /// <summary>Every binding ever made, by group, across sessions.</summary>
    public ConcurrentQueue<string> BindLog { get; } = new();

    public ConcurrentQueue<ulong> Acks { get; } = new();

    /// <summary>Every ack throws from now on (a broken transport, to fail whoever acks).</summary>
    public volatile bool FailAcks;

    /// <summary>Every unbind ever made, by group, across sessions.</summary>
    public ConcurrentQueue<string> UnbindLog { get; } = new();

    /// <summary>The next <paramref name="count"/> binds fail (as a bind the broker refuses).</summary>
    public void FailNextBinds(int count) { lock (_gate) _failBinds = count; }

    /// <summary>Runs <paramref name="prepare"/> on the next session opened, before the layer uses it.</summary>
    public void PrepareNextSession(Action<FakeSession> prepare) { lock (_gate) _prepareNext.Enqueue(prepare); }

    /// <summary>Refuse the next <paramref name="count"/> connection attempts.</summary>
    public void RefuseConnects(int count) { lock (_gate) _refuseConnects = count; }

    /// <summary>Report the queue as existing (held elsewhere) on the next <paramref name="count"/> attempts.</summary>
    public void ReportQueueConflicts(int count) { lock (_gate) _conflicts = count; }

    /// <summary>Nack the next <paramref name="count"/> publishes, as a full queue does.</summary>
    public void NackNextPublishes(int count) { lock (_gate) _nacks = count; }

    /// <summary>Waits for the next established connection (queue declared, bindings replayed, consuming).</summary>
    public async Task<FakeSession> NextConnectionAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _connections.Reader.ReadAsync(cts.Token);
    }

    public Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ConnectAttempts++;
            if (_refuseConnects > 0)
            {
                _refuseConnects--;
                return Task.FromException<IAmqpSession>(new InvalidOperationException("Connection refused (simulated)"));
            }
            var session = new FakeSession(this, handlers, conflict: _conflicts > 0 && _conflicts-- > 0);
            if (_prepareNext.TryDequeue(out var prepare)) prepare(session);
            return Task.FromResult<IAmqpSession>(session);
        }
    }

    internal bool TakeBindFailure()
    {
        lock (_gate)
        {
            if (_failBinds == 0) return false;
            _failBinds--;
            return true;
        }
    }

    internal bool TakeNack()
    {
        lock (_gate)
        {
            if (_nacks == 0) return false;
            _nacks--;
            return true;
        }
    }

    internal void Established(FakeSession session)
    {
        Current = session;
        _connections.Writer.TryWrite(session);
    }

    internal sealed class FakeSession : IAmqpSession
    {
        private readonly FakeAmqpTransport _transport;
        private readonly AmqpSessionHandlers _handlers;
        private readonly bool _conflict;
        private readonly object _gate = new();
        private readonly object _pumpGate = new();
        private readonly Queue<(byte[] Body, bool Redelivered)> _ready = new();
        private readonly HashSet<ulong> _unacked = [];
        private ulong _nextTag;
        private ushort _prefetch;
        private bool _consuming;
        private volatile bool _open = true;

        public FakeSession(FakeAmqpTransport transport, AmqpSessionHandlers handlers, bool conflict)
        {
            _transport = transport;
            _handlers = handlers;
            _conflict = conflict;
        }

        public string? Queue { get; private set; }

        public HashSet<string> Bindings { get; } = [];

        public int Unacked { get { lock (_gate) return _unacked.Count; } }

        public RabbitMQ.Client.IConnection? Connection => null;

        public bool IsOpen
        {
            get
            {
                if (ThrowOnNextIsOpen)
                {
                    ThrowOnNextIsOpen = false;
                    throw new InvalidOperationException("a bug (simulated)");
                }
                return _open;
            }
        }

        /// <summary>Drops the connection as the broker would: the layer is told, the queue is gone.</summary>
        public void Drop(string reason = "connection reset (simulated)")
        {
            if (!_open) return;
            _open = false;
            _dropped.TrySetResult();
            _handlers.OnDisconnected(this, reason);
        }

        /// <summary>
        /// The connection closes but its loss is not reported yet (it is, by <see cref="ReportLoss"/>):
        /// the moment when a publish finds the session closed before sending anything.
        /// </summary>
        public void CloseUnreported() => _open = false;

        /// <summary>Reports the loss of a connection closed by <see cref="CloseUnreported"/>.</summary>
        public void ReportLoss(string reason = "connection reset (simulated)") => _handlers.OnDisconnected(this, reason);

        /// <summary>The next unbind drops the connection and fails with it, as a kill in the middle of the unbind would.</summary>
        public bool DropOnUnbind { get; set; }

        /// <summary>The next read of <see cref="IsOpen"/> throws: a bug inside the connection actor's handling.</summary>
        public bool ThrowOnNextIsOpen { get; set; }

        /// <summary>Publishes are held (sent, not confirmed) until the connection drops.</summary>
        public bool HoldConfirms { get; set; }

        /// <summary>Completes when a publish is held unconfirmed (<see cref="HoldConfirms"/>): it is in flight.</summary>
        public Task PublishHeld => _held.Task;

        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private readonly TaskCompletionSource _dropped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Puts a raw body into the layer's queue, as another publisher would.</summary>
        public void Inject(byte[] body, bool redelivered = false)
        {
            lock (_gate) _ready.Enqueue((body, redelivered));
            Pump();
        }

        public Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken) => Task.FromResult(_conflict);

        public Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken)
        {
            Queue = queue.Name;
            return Task.CompletedTask;
        }

        public Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken)
        {
            ThrowIfClosed();
            if (_transport.TakeBindFailure()) return Task.FromException(new InvalidOperationException("bind refused (simulated)"));
            lock (_gate) Bindings.Add(routingKey);
            _transport.BindLog.Enqueue(routingKey);
            return Task.CompletedTask;
        }

        public Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken)
        {
            ThrowIfClosed();
            if (DropOnUnbind)
            {
                DropOnUnbind = false;
                Drop("connection reset during an unbind (simulated)");
                return Task.FromException(new ConnectionLostException("closed during the unbind (simulated)"));
            }
            lock (_gate) Bindings.Remove(routingKey);
            _transport.UnbindLog.Enqueue(routingKey);
            return Task.CompletedTask;
        }

        public Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken)
        {
            _prefetch = prefetch;
            _consuming = true;
            _transport.Established(this);
            Pump();
            return Task.CompletedTask;
        }

        public Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken)
        {
            if (!_open) return Task.FromException(new PublishNotSentException("closed before sending (simulated)"));
            if (HoldConfirms)
            {
                _held.TrySetResult();
                return _dropped.Task.ContinueWith(_ => throw new ConnectionLostException("closed before the confirm (simulated)"), TaskScheduler.Default);
            }
            if (_transport.TakeNack()) return Task.FromException(new PublishRejectedException("nack (simulated)"));
            bool routed;
            lock (_gate) routed = exchange.Length == 0 ? routingKey == Queue : Bindings.Contains(routingKey);
            if (routed) Inject(body.ToArray());
            return Task.CompletedTask;
        }

        public void Ack(ulong deliveryTag)
        {
            if (_transport.FailAcks) throw new InvalidOperationException("ack refused (simulated)");
            if (!_open) return;
            lock (_gate)
            {
                if (!_unacked.Remove(deliveryTag)) throw new InvalidOperationException($"Unknown delivery tag {deliveryTag}");
            }
            _transport.Acks.Enqueue(deliveryTag);
            Pump();
        }

        public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CloseAsync()
        {
            _open = false;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _open = false;
            return ValueTask.CompletedTask;
        }

        // Delivers in order, never more than the prefetch unacked.
        private void Pump()
        {
            lock (_pumpGate)
            while (true)
            {
                (byte[] Body, bool Redelivered) next;
                ulong tag;
                lock (_gate)
                {
                    if (!_open || !_consuming || _ready.Count == 0 || _unacked.Count >= _prefetch) return;
                    next = _ready.Dequeue();
                    tag = ++_nextTag;
                    _unacked.Add(tag);
                }
                _handlers.OnDelivery(this, new InboundDelivery(tag, next.Body, next.Redelivered, TraceHeaders.None));
            }
        }

        private void ThrowIfClosed()
        {
            if (!_open) throw new ConnectionLostException("closed (simulated)");
        }
    }
}
