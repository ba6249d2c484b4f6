using Akka.Event;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>
/// One RabbitMQ connection with three AMQP channels: topology (declare, bind; one RPC at a
/// time), publish (publisher confirms, concurrent publishes) and consume (manual acks).
/// </summary>
/// <remarks>
/// <para>
/// Loss: the connection's shutdown, or the broker closing the publish or consume channel
/// while the connection lives (e.g. an ack with an unknown delivery tag), or the broker
/// cancelling the consumer (someone else deleted its queue) all count as a lost session: the
/// handlers' <c>OnDisconnected</c> is called once, and the connection is closed. A close the
/// layer asked for (<see cref="CloseAsync"/>), and the consumer's end when the session deletes
/// its own consumed queue, report nothing.
/// </para>
/// <para>
/// The topology channel is reopened on the next topology call if the broker closed it (a
/// failed declare closes its channel: that error is the failed call's, not the session's), and
/// replaced after a cancelled or timed-out call, whose late reply must not answer the next one.
/// </para>
/// <para>
/// A publish is refused with <see cref="PublishNotSentException"/> when the session, the
/// connection or the publish channel is already closed as it starts (nothing was sent); once
/// handed to the client, a failure is <see cref="ConnectionLostException"/> (it may have been
/// sent: the layer does not send it again). A close in the instant between the check and the
/// client's own is counted as the latter, on the at-most-once side.
/// </para>
/// <para>
/// Publishing uses RabbitMQ.Client's confirmation tracking without a rate limiter: callers
/// await their own publishes, which is the back-pressure; the client serialises only the frame
/// writes, not the waits for confirms. With tracking on, the client adds an
/// <c>x-dotnet-pub-seq-no</c> header to every message it publishes (harmless to other readers).
/// </para>
/// <para>
/// Acks are single frame writes (no RPC), safe from any thread; they go on the consume channel
/// that delivered the message, and are dropped once the session is no longer open (the broker
/// requeues or drops what was unacked, and an unknown tag would close the channel).
/// </para>
/// </remarks>
internal sealed class RabbitMqSession : IAmqpSession
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private const int Opening = 0, Open = 1, ClosedByLayer = 2, LostState = 3;

    private readonly IConnection _connection;
    private readonly AmqpSessionHandlers _handlers;
    private readonly ILoggingAdapter _log;
    private readonly SemaphoreSlim _topologyLock = new(1, 1);
    // Cancelled when the session ends (lost or closed): every wait inside the client library is
    // given this token, so nothing pending can outlive the session. RabbitMQ.Client 7.2.x can
    // leave publishes that were in flight pending forever when the connection drops under load
    // (seen here in about one run in five; upstream rabbitmq-dotnet-client#1930).
    private readonly CancellationTokenSource _ended = new();
    private IChannel _topology = null!;
    private IChannel _publish = null!;
    private IChannel _consume = null!;
    private int _state = Opening;
    private volatile string? _lostReason;
    private volatile bool _consuming;
    private volatile string? _consumedQueue;
    private volatile bool _consumerCancelExpected;
    private int _consumeStarted;
    private Task? _closeTask;
    private readonly object _closeLock = new();

    private RabbitMqSession(IConnection connection, AmqpSessionHandlers handlers, ILoggingAdapter log)
    {
        _connection = connection;
        _handlers = handlers;
        _log = log;
    }

    /// <summary>
    /// Opens the session's channels on <paramref name="connection"/>. On failure the caller
    /// disposes the connection. The handlers get nothing before this returns.
    /// </summary>
    public static async Task<RabbitMqSession> OpenAsync(IConnection connection, AmqpSessionHandlers handlers, ILoggingAdapter log, CancellationToken cancellationToken)
    {
        var session = new RabbitMqSession(connection, handlers, log);
        // Subscribe before checking IsOpen, so that a close is either seen here or reported.
        connection.ConnectionShutdownAsync += session.OnConnectionShutdownAsync;
        connection.ConnectionBlockedAsync += session.OnConnectionBlockedAsync;
        connection.ConnectionUnblockedAsync += session.OnConnectionUnblockedAsync;
        if (!connection.IsOpen)
            throw new ConnectionLostException($"The connection closed while it was being set up: {connection.CloseReason}");

        session._topology = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        session._publish = await connection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: true,
                publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null),
            cancellationToken).ConfigureAwait(false);
        session._consume = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        session._publish.ChannelShutdownAsync += session.OnPublishChannelShutdownAsync;
        session._consume.ChannelShutdownAsync += session.OnConsumeChannelShutdownAsync;

        if (!session._topology.IsOpen || !session._publish.IsOpen || !session._consume.IsOpen)
            throw new ConnectionLostException("An AMQP channel closed while the session was being set up.");
        if (Interlocked.CompareExchange(ref session._state, Open, Opening) != Opening)
            throw new ConnectionLostException($"The connection was lost while it was being set up: {session._lostReason}");
        return session;
    }

    /// <inheritdoc />
    public IConnection? Connection => _connection;

    /// <inheritdoc />
    public bool IsOpen => Volatile.Read(ref _state) == Open && _connection.IsOpen;

    /// <summary>Why the session was lost; null while it is open or after a close the layer asked for.</summary>
    public string? LostReason => _lostReason;

    /// <inheritdoc />
    public async Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        IChannel? probe = null;
        using var linked = Link(cancellationToken, out var token);
        try
        {
            // A throwaway channel: a 404 from the passive declare closes the channel it ran on.
            probe = await _connection.CreateChannelAsync(cancellationToken: token).ConfigureAwait(false);
            await probe.QueueDeclarePassiveAsync(queue, token).ConfigureAwait(false);
            return true;
        }
        catch (OperationInterruptedException ex) when (_connection.IsOpen && ex.ShutdownReason?.ReplyCode == Constants.NotFound)
        {
            return false;
        }
        catch (OperationInterruptedException ex) when (_connection.IsOpen && ex.ShutdownReason?.ReplyCode == Constants.ResourceLocked)
        {
            return true; // held exclusively by another connection
        }
        catch (Exception ex) when (IsSessionEnd(ex, cancellationToken))
        {
            throw Lost("checking whether queue '" + queue + "' exists", ex);
        }
        finally
        {
            if (probe is not null) await DisposeChannelQuietlyAsync(probe).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken) =>
        OnTopologyChannelAsync($"declaring exchange '{exchange}'", (channel, ct) =>
            channel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: false, autoDelete: false, arguments: null, cancellationToken: ct),
            cancellationToken);

    /// <inheritdoc />
    public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken)
    {
        var arguments = new Dictionary<string, object?>
        {
            ["x-max-length"] = queue.MaxLength,
            ["x-overflow"] = "reject-publish",
            ["x-message-ttl"] = Milliseconds(queue.MessageTtl),
        };
        if (queue.Expires is { } expires) arguments["x-expires"] = Milliseconds(expires);
        return OnTopologyChannelAsync($"declaring queue '{queue.Name}'", (channel, ct) =>
            channel.QueueDeclareAsync(queue.Name, durable: queue.Durable, exclusive: queue.Exclusive, autoDelete: false, arguments, cancellationToken: ct),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        OnTopologyChannelAsync($"binding queue '{queue}' to '{exchange}' with '{routingKey}'", (channel, ct) =>
            channel.QueueBindAsync(queue, exchange, routingKey, arguments: null, cancellationToken: ct),
            cancellationToken);

    /// <inheritdoc />
    public Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) =>
        OnTopologyChannelAsync($"unbinding queue '{queue}' from '{exchange}' with '{routingKey}'", (channel, ct) =>
            channel.QueueUnbindAsync(queue, exchange, routingKey, arguments: null, cancellationToken: ct),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>Deleting the queue this session consumes ends the consumer without reporting a loss.</remarks>
    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken)
    {
        // The broker cancels our consumer when its queue goes: expected here, not a loss.
        if (queue == _consumedQueue) _consumerCancelExpected = true;
        return OnTopologyChannelAsync($"deleting queue '{queue}'", (channel, ct) =>
            channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: ct),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A failure of the consume (e.g. 403 ACCESS_REFUSED for an exclusive consume on a queue
    /// another connection consumes) closes the consume channel and is thrown from here, without
    /// <c>OnDisconnected</c>; the session cannot consume any more, so the caller closes it.
    /// </remarks>
    public async Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        if (Interlocked.Exchange(ref _consumeStarted, 1) != 0)
            throw new InvalidOperationException("This session is already consuming.");
        using var linked = Link(cancellationToken, out var token);
        try
        {
            await _consume.BasicQosAsync(prefetchSize: 0, prefetchCount: prefetch, global: false, token).ConfigureAwait(false);
            _consumedQueue = queue;
            var consumer = new LayerConsumer(this, _consume);
            await _consume.BasicConsumeAsync(queue, autoAck: false, consumerTag: "", noLocal: false, exclusive: exclusive,
                arguments: null, consumer, token).ConfigureAwait(false);
            _consuming = true;
            // Until now a consume-channel closure was this call's error; if it closed meanwhile, report it.
            if (!_consume.IsOpen) ReportLost($"the consume channel closed: {_consume.CloseReason}");
        }
        catch (Exception ex) when (IsSessionEnd(ex, cancellationToken))
        {
            throw Lost($"starting to consume queue '{queue}'", ex);
        }
    }

    /// <inheritdoc />
    public async Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken)
    {
        // Checked before the client sees the message: a connection or channel already closing
        // (its loss not yet reported) would fail it with the same AlreadyClosedException as a
        // publish whose bytes were written, but this one certainly never left.
        if (Volatile.Read(ref _state) != Open || !_connection.IsOpen || !_publish.IsOpen)
            throw new PublishNotSentException($"Not published to exchange '{exchange}' with routing key '{routingKey}': the session is closing " +
                $"({(Volatile.Read(ref _state) == ClosedByLayer ? "closed by the layer" : _lostReason ?? _connection.CloseReason?.ToString() ?? _publish.CloseReason?.ToString() ?? "closed")}).");
        using var linked = Link(cancellationToken, out var token);
        try
        {
            // No properties: the wire contract needs none. (With confirmation tracking the client
            // adds its own x-dotnet-pub-seq-no header to a fresh properties object per publish;
            // a shared BasicProperties instance would be mutated concurrently, so none is passed.)
            if (trace.IsEmpty)
            {
                await _publish.BasicPublishAsync(exchange, routingKey, mandatory: false, body, token).ConfigureAwait(false);
            }
            else
            {
                // Python peers ignore these headers; .NET peers continue the trace from them.
                var properties = new BasicProperties { Headers = new Dictionary<string, object?>(trace.Fields!) };
                await _publish.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, body, token).ConfigureAwait(false);
            }
        }
        catch (PublishException ex)
        {
            throw new PublishRejectedException(
                $"RabbitMQ refused the message published to exchange '{exchange}' with routing key '{routingKey}' (nack: the queue is full).", ex);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or ObjectDisposedException or System.Threading.Channels.ChannelClosedException
                                   || IsSessionEnd(ex, cancellationToken))
        {
            // Any AMQP-level failure of the publish channel ends the session (its shutdown handler reports it).
            throw Lost($"publishing to exchange '{exchange}' with routing key '{routingKey}'", ex);
        }
    }

    /// <inheritdoc />
    public void Ack(ulong deliveryTag)
    {
        if (Volatile.Read(ref _state) != Open) return;
        ValueTask ack;
        try
        {
            ack = _consume.BasicAckAsync(deliveryTag, multiple: false);
        }
        catch (Exception ex)
        {
            LogAckFailure(deliveryTag, ex);
            return;
        }
        if (ack.IsCompletedSuccessfully) return;
        _ = ObserveAckAsync(ack.AsTask(), deliveryTag);
    }

    private async Task ObserveAckAsync(Task ack, ulong deliveryTag)
    {
        try
        {
            await ack.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogAckFailure(deliveryTag, ex);
        }
    }

    private void LogAckFailure(ulong deliveryTag, Exception ex)
    {
        // After a loss the broker requeues or drops the unacked message anyway.
        if (Volatile.Read(ref _state) == Open)
            _log.Warning(ex, "Failed to ack delivery {0}: {1}", deliveryTag, ex.Message);
        else
            _log.Debug("Ack of delivery {0} not sent: the connection is closed ({1})", deliveryTag, ex.Message);
    }

    /// <inheritdoc />
    public Task CloseAsync()
    {
        lock (_closeLock)
        {
            if (_closeTask is not null) return _closeTask;
            // From here on nothing is reported, whatever the close causes.
            int state;
            do
            {
                state = Volatile.Read(ref _state);
            } while (state is Opening or Open && Interlocked.CompareExchange(ref _state, ClosedByLayer, state) != state);
            _closeTask = CloseAndEndAsync();
            return _closeTask;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        var lost = Volatile.Read(ref _state) == LostState;
        await CloseAsync().ConfigureAwait(false);
        if (!lost)
        {
            await DisposeQuietlyAsync(_connection).ConfigureAwait(false);
            return;
        }
        // After a broker-side close the client's main loop may still be finishing that close;
        // disposing the connection under it makes the loop throw ObjectDisposedException into an
        // unobserved task (RabbitMQ.Client 7.2). Give it time, away from the caller's path.
        var connection = _connection;
        _ = Task.Run(async () =>
        {
            await Task.Delay(LostConnectionDisposeDelay).ConfigureAwait(false);
            await DisposeQuietlyAsync(connection).ConfigureAwait(false);
        });
    }

    private static readonly TimeSpan LostConnectionDisposeDelay = TimeSpan.FromSeconds(5);

    /// <summary>Disposes a connection, ignoring errors: used on failed opens and at dispose.</summary>
    internal static async Task DisposeQuietlyAsync(IConnection connection)
    {
        try
        {
            if (connection.IsOpen)
                await connection.CloseAsync(Constants.ReplySuccess, "Closed by the channel layer", CloseTimeout, abort: true).ConfigureAwait(false);
        }
        catch
        {
            // closing is best effort
        }
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch
        {
            // disposing is best effort
        }
    }

    private async Task CloseAndEndAsync()
    {
        await EndPendingOperationsAsync().ConfigureAwait(false);
        await CloseConnectionAsync("Closed by the channel layer").ConfigureAwait(false);
    }

    private async Task CloseConnectionAsync(string reason)
    {
        try
        {
            if (_connection.IsOpen)
                await _connection.CloseAsync(Constants.ReplySuccess, reason, CloseTimeout, abort: true).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.Debug("Closing the RabbitMQ connection: {0}", ex.Message);
        }
    }

    private async Task OnTopologyChannelAsync(string what, Func<IChannel, CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        using var linked = Link(cancellationToken, out var token);
        try
        {
            await _topologyLock.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (IsSessionEnd(ex, cancellationToken))
        {
            throw Lost(what, ex);
        }
        try
        {
            if (!_topology.IsOpen && _connection.IsOpen)
            {
                // The broker closed it after a failed declare: that call already got its error.
                var old = _topology;
                _topology = await _connection.CreateChannelAsync(cancellationToken: token).ConfigureAwait(false);
                await DisposeChannelQuietlyAsync(old).ConfigureAwait(false);
            }
            await operation(_topology, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsSessionEnd(ex, cancellationToken))
        {
            throw Lost(what, ex);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            // The reply to an abandoned RPC may still arrive: a fresh channel for the next call.
            await DisposeChannelQuietlyAsync(_topology).ConfigureAwait(false);
            throw;
        }
        finally
        {
            _topologyLock.Release();
        }
    }

    private static async Task DisposeChannelQuietlyAsync(IChannel channel)
    {
        try
        {
            if (channel.IsOpen) await channel.CloseAsync().ConfigureAwait(false);
        }
        catch
        {
            // best effort
        }
        try
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
        catch
        {
            // best effort
        }
    }

    private void ThrowIfNotOpen()
    {
        var state = Volatile.Read(ref _state);
        if (state == Open) return;
        throw new ConnectionLostException(state == ClosedByLayer
            ? "The RabbitMQ session was closed by the layer."
            : $"The RabbitMQ connection was lost: {_lostReason}");
    }

    /// <summary>
    /// An error caused by the session ending (the connection going away, or the layer closing
    /// it) rather than by the operation itself; a cancellation is the session's end only when
    /// the caller did not ask for it.
    /// </summary>
    private bool IsSessionEnd(Exception ex, CancellationToken callerToken) => ex switch
    {
        OperationCanceledException => _ended.IsCancellationRequested && !callerToken.IsCancellationRequested,
        AlreadyClosedException or OperationInterruptedException or ObjectDisposedException or System.Threading.Channels.ChannelClosedException
            => !_connection.IsOpen || Volatile.Read(ref _state) != Open,
        _ => false,
    };

    /// <summary>The caller's token joined with the session's end; null (nothing to dispose) when the caller's cannot cancel.</summary>
    private CancellationTokenSource? Link(CancellationToken callerToken, out CancellationToken token)
    {
        if (!callerToken.CanBeCanceled)
        {
            token = _ended.Token;
            return null;
        }
        var linked = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _ended.Token);
        token = linked.Token;
        return linked;
    }

    /// <summary>Fails whatever is still pending in the client library; the callbacks run off the caller's thread.</summary>
    private async Task EndPendingOperationsAsync()
    {
        try
        {
            await _ended.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.Debug("Ending the session's pending operations: {0}", ex.Message);
        }
    }

    private ConnectionLostException Lost(string what, Exception ex)
    {
        var state = Volatile.Read(ref _state);
        var why = state == ClosedByLayer ? "the session was closed by the layer" : _lostReason ?? _connection.CloseReason?.ToString() ?? ex.Message;
        return new ConnectionLostException($"The RabbitMQ connection was lost while {what}: {why}", ex);
    }

    private Task OnConnectionShutdownAsync(object? sender, ShutdownEventArgs e)
    {
        ReportLost($"the connection closed ({Describe(e)})");
        return Task.CompletedTask;
    }

    private Task OnConnectionBlockedAsync(object? sender, ConnectionBlockedEventArgs e)
    {
        _log.Warning("RabbitMQ blocked the connection ({0}): publishes wait until it unblocks it.", e.Reason);
        return Task.CompletedTask;
    }

    private Task OnConnectionUnblockedAsync(object? sender, AsyncEventArgs e)
    {
        _log.Info("RabbitMQ unblocked the connection: publishes resume.");
        return Task.CompletedTask;
    }

    private Task OnPublishChannelShutdownAsync(object? sender, ShutdownEventArgs e)
    {
        // A channel also shuts down with its connection: that is the connection's report.
        if (e.Initiator != ShutdownInitiator.Application && _connection.IsOpen)
            ReportLost($"the broker closed the publish channel ({Describe(e)})");
        return Task.CompletedTask;
    }

    private Task OnConsumeChannelShutdownAsync(object? sender, ShutdownEventArgs e)
    {
        // Before the consumer is registered a closure is StartConsumingAsync's error, not a loss.
        if (_consuming && e.Initiator != ShutdownInitiator.Application && _connection.IsOpen)
            ReportLost($"the broker closed the consume channel ({Describe(e)})");
        return Task.CompletedTask;
    }

    private static string Describe(ShutdownEventArgs e)
    {
        var text = $"{e.Initiator}, code {e.ReplyCode}: {e.ReplyText}";
        return e.Exception is { } ex ? $"{text}; {ex.GetType().Name}: {ex.Message}" : text;
    }

    /// <summary>Marks the session lost; the first loss while open calls <c>OnDisconnected</c> and closes the connection.</summary>
    private void ReportLost(string reason)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state is ClosedByLayer or LostState) return;
            _lostReason ??= reason;
            if (Interlocked.CompareExchange(ref _state, LostState, state) != state) continue;
            if (state == Opening) return; // OpenAsync sees it and throws
            break;
        }

        try
        {
            _handlers.OnDisconnected(this, reason);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "The disconnection handler failed: {0}", ex.Message);
        }
        // Not awaited: this runs on the client's own callback, which a close would wait for.
        _ = Task.Run(async () =>
        {
            await EndPendingOperationsAsync().ConfigureAwait(false);
            await CloseConnectionAsync("Channel layer session lost: " + reason).ConfigureAwait(false);
        });
    }

    private void Deliver(ulong deliveryTag, ReadOnlyMemory<byte> body, bool redelivered, IReadOnlyBasicProperties properties)
    {
        if (Volatile.Read(ref _state) != Open) return; // a stale delivery can no longer be acked
        try
        {
            _handlers.OnDelivery(this, new InboundDelivery(deliveryTag, body, redelivered, ReadTrace(properties)));
        }
        catch (Exception ex)
        {
            _log.Error(ex, "The delivery handler failed on delivery {0}: {1}", deliveryTag, ex.Message);
        }
    }

    /// <summary>Hands each delivery to the session synchronously, so the body is used while it is valid.</summary>
    private sealed class LayerConsumer : AsyncDefaultBasicConsumer
    {
        private readonly RabbitMqSession _session;

        public LayerConsumer(RabbitMqSession session, IChannel channel) : base(channel)
        {
            _session = session;
        }

        public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange,
            string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        {
            _session.Deliver(deliveryTag, body, redelivered, properties);
            return Task.CompletedTask;
        }

        public override async Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
        {
            await base.HandleBasicCancelAsync(consumerTag, cancellationToken).ConfigureAwait(false);
            // The broker cancelled the consumer because its queue was deleted by someone else
            // (an operator, a policy): the layer would receive nothing more.
            if (!_session._consumerCancelExpected)
                _session.ReportLost($"the broker cancelled the consumer {consumerTag} (was its queue deleted?)");
        }
    }

    // The propagator reads its own fields from the headers, when a trace needs them.
    private static TraceHeaders ReadTrace(IReadOnlyBasicProperties properties) =>
        properties.Headers is { Count: > 0 } headers ? Tracing.Extract(headers) : TraceHeaders.None;

    private static object Milliseconds(TimeSpan span)
    {
        var ms = (long)Math.Ceiling(span.TotalMilliseconds);
        return ms <= int.MaxValue ? (int)ms : ms;
    }
}
