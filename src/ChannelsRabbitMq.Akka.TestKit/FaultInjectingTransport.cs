using System.Diagnostics;
using System.Threading.Channels;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// A decorator around a layer's transport (the in-memory broker's or RabbitMQ's) that applies the
/// faults armed on a <see cref="ChannelLayerFaults"/>: refused connection attempts, nacked sends,
/// delayed and dropped deliveries; and tells it when a connection is established or lost.
/// </summary>
internal sealed class FaultInjectingTransport : IAmqpTransport
{
    private readonly Task<IAmqpTransport> _inner;
    private readonly ChannelLayerFaults _faults;

    /// <param name="inner">The real transport; awaited on the first connection attempt (it may be created after the layer).</param>
    /// <param name="faults">The faults to apply.</param>
    public FaultInjectingTransport(Task<IAmqpTransport> inner, ChannelLayerFaults faults)
    {
        _inner = inner;
        _faults = faults;
    }

    public async Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken)
    {
        _faults.OnConnectAttempt();
        var inner = await _inner.WaitAsync(cancellationToken).ConfigureAwait(false);
        var session = new FaultInjectingSession(_faults, handlers);
        session.Attach(await inner.ConnectAsync(session.InnerHandlers, cancellationToken).ConfigureAwait(false));
        return session;
    }
}

/// <summary>A session of <see cref="FaultInjectingTransport"/>: the real session, with faults applied.</summary>
internal sealed class FaultInjectingSession : IAmqpSession
{
    private readonly ChannelLayerFaults _faults;
    private readonly AmqpSessionHandlers _outer;
    private readonly CancellationTokenSource _stopped = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _delayGate = new();
    private Channel<DelayedDelivery>? _delayed;
    private int _pendingDelayed;
    private IAmqpSession? _inner;

    public FaultInjectingSession(ChannelLayerFaults faults, AmqpSessionHandlers outer)
    {
        _faults = faults;
        _outer = outer;
        InnerHandlers = new AmqpSessionHandlers(OnInnerDelivery, OnInnerDisconnected);
    }

    /// <summary>The handlers given to the real transport: they report to the layer as this session.</summary>
    public AmqpSessionHandlers InnerHandlers { get; }

    /// <summary>The real session.</summary>
    public IAmqpSession Inner => _inner ?? throw new InvalidOperationException("The session is not connected yet.");

    /// <summary>
    /// Completes once the layer has been told the connection was lost (so that any call it gets
    /// afterwards waits for the next connection), or once the layer closed the session.
    /// </summary>
    public Task Ended => _ended.Task;

    /// <summary>Number of the established connection (1 for the first); 0 until established.</summary>
    public long Sequence { get; set; }

    public void Attach(IAmqpSession inner)
    {
        _inner = inner;
        // The in-memory broker says at once when it drops a connection, so that a test's
        // WaitForReconnectAsync right after DropAllConnections cannot see the old connection.
        if (inner is InMemoryConnection connection) connection.DroppedByBroker = () => _faults.OnClosed(this, lost: true);
    }

    public RabbitMQ.Client.IConnection? Connection => Inner.Connection;

    public bool IsOpen => _inner?.IsOpen == true && !_stopped.IsCancellationRequested;

    public Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken) => Inner.QueueExistsAsync(queue, cancellationToken);

    public Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken) => Inner.DeclareExchangeAsync(exchange, cancellationToken);

    public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken) => Inner.DeclareQueueAsync(queue, cancellationToken);

    public Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        Inner.BindAsync(queue, exchange, routingKey, cancellationToken);

    public Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        Inner.UnbindAsync(queue, exchange, routingKey, cancellationToken);

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) => Inner.DeleteQueueAsync(queue, cancellationToken);

    public async Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken)
    {
        await Inner.StartConsumingAsync(queue, prefetch, exclusive, cancellationToken).ConfigureAwait(false);
        // Consuming is the last step of a connection: from here on the layer is connected.
        if (!_faults.OnEstablished(this))
            throw new ConnectionLostException("Connection attempt refused: the broker is down (simulated outage).");
    }

    public Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken)
    {
        if (exchange.Length == 0 && IsOpen && _faults.TryTakeSendFailure())
            return Task.FromException(new PublishRejectedException(
                $"Simulated nack of a message to queue '{routingKey}' (ChannelLayerFaults.FailNextSends)."));
        return Inner.PublishAsync(exchange, routingKey, body, trace, cancellationToken);
    }

    public void Ack(ulong deliveryTag) => _inner?.Ack(deliveryTag);

    public async Task CloseAsync()
    {
        Stop(lost: false);
        _ended.TrySetResult();
        if (_inner is not null) await _inner.CloseAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Stop(lost: false);
        _ended.TrySetResult();
        if (_inner is not null) await _inner.DisposeAsync().ConfigureAwait(false);
    }

    private void Stop(bool lost)
    {
        try
        {
            _stopped.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already stopped
        }
        _faults.OnClosed(this, lost);
    }

    // Runs on the real transport's delivery path, one delivery at a time.
    private void OnInnerDelivery(IAmqpSession inner, InboundDelivery delivery)
    {
        if (_faults.TryTakeDeliveryDrop())
        {
            inner.Ack(delivery.DeliveryTag); // lost on the way: it must not hold a prefetch slot
            return;
        }
        var delay = _faults.DeliveryDelay;
        // Order: while delayed deliveries are pending, later ones queue behind them. Only this
        // path increments the count, and the pump decrements it after delivering, so zero here
        // means everything queued before has been handed over.
        if (delay <= TimeSpan.Zero && Volatile.Read(ref _pendingDelayed) == 0)
        {
            _outer.OnDelivery(this, delivery);
            return;
        }
        Interlocked.Increment(ref _pendingDelayed);
        // The body is valid only during this call: keep a copy.
        Pump().Writer.TryWrite(new DelayedDelivery(delivery with { Body = delivery.Body.ToArray() }, Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency)));
    }

    private void OnInnerDisconnected(IAmqpSession inner, string reason)
    {
        Stop(lost: true);
        try
        {
            _outer.OnDisconnected(this, reason);
        }
        finally
        {
            _ended.TrySetResult();
        }
    }

    private Channel<DelayedDelivery> Pump()
    {
        lock (_delayGate)
        {
            if (_delayed is not null) return _delayed;
            _delayed = Channel.CreateUnbounded<DelayedDelivery>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            _ = Task.Run(() => PumpDelayedAsync(_delayed.Reader));
            return _delayed;
        }
    }

    private async Task PumpDelayedAsync(ChannelReader<DelayedDelivery> reader)
    {
        var stopped = _stopped.Token;
        try
        {
            await foreach (var delivery in reader.ReadAllAsync(stopped).ConfigureAwait(false))
            {
                // Timers may fire a little early: wait until the due time has really passed.
                TimeSpan wait;
                while ((wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), delivery.Due)) > TimeSpan.Zero)
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), stopped).ConfigureAwait(false);
                // A connection lost meanwhile took its deliveries with it (they cannot be acked).
                if (IsOpen) _outer.OnDelivery(this, delivery.Delivery);
                Interlocked.Decrement(ref _pendingDelayed);
            }
        }
        catch (OperationCanceledException)
        {
            // the session is gone, and its pending deliveries with it
        }
    }

    private sealed record DelayedDelivery(InboundDelivery Delivery, long Due);
}
