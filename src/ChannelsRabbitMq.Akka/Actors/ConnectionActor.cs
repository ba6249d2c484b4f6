using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Owns the connection to RabbitMQ. While connecting it stashes publishes and binding changes;
/// each attempt connects, checks that no other connection holds the queue name, declares the
/// groups exchange and the queue, replays every group binding and starts consuming — only then
/// does traffic flow. Failures are logged and retried every <c>ReconnectDelay</c>, forever.
/// When an established connection is lost, the actor fails on purpose: its supervisor restarts
/// it, and the restart is the reconnect.
/// </summary>
/// <remarks>
/// Publishes are not serialised: each one is handed to the session at once and completes the
/// caller's task from the client's confirmation. Binding changes run one at a time, in order, so
/// a discard followed by an add of the same group cannot be reordered on the wire.
/// </remarks>
internal sealed class ConnectionActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RabbitMqChannelLayerOptions _options;
    private readonly string _queueName;
    private readonly IAmqpTransport _transport;
    private readonly IActorRef _router;
    private readonly LayerCounters _counters;
    private readonly LayerRoutes _routes;
    private readonly string _redactedHost;
    private readonly Queue<TopologyChange> _topologyChanges = new();
    private IAmqpSession? _session;
    private bool _topologyChangeRunning;
    private readonly HashSet<IAmqpSession> _lostDuringSetup = [];
    private bool _shuttingDown;
    private int _attempt;

    // Survives restarts (the actor instance does not): set through the counters' first connection.
    private bool EverConnected
    {
        get => _counters.EverConnected;
        set => _counters.EverConnected = value;
    }

    public ConnectionActor(RabbitMqChannelLayerOptions options, string queueName, IAmqpTransport transport, IActorRef router, LayerCounters counters, LayerRoutes routes)
    {
        _routes = routes;
        _counters = counters;
        _options = options;
        _queueName = queueName;
        _transport = transport;
        _router = router;
        _redactedHost = AmqpUris.Redact(options.Host);
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RabbitMqChannelLayerOptions options, string queueName, IAmqpTransport transport, IActorRef router, LayerCounters counters,
        LayerRoutes routes) =>
        global::Akka.Actor.Props.Create(() => new ConnectionActor(options, queueName, transport, router, counters, routes));

    /// <summary>Publish an encoded message; a nack on a direct send fails the caller with <see cref="ChannelFullException"/>.</summary>
    public sealed record Publish(string Exchange, string RoutingKey, byte[] Body, string Destination, bool IsGroup, PendingReply<Done> Reply)
    {
        /// <summary>The send's activity (stopped when the broker confirms) and the context it propagates.</summary>
        public System.Diagnostics.Activity? Activity { get; init; }

        public TraceHeaders Trace { get; init; }
    }

    /// <summary>Bind the queue to the groups exchange for a group (completes once bound).</summary>
    public sealed record Bind(string Group, TaskCompletionSource<Done> Completion) : TopologyChange(Group, Completion);

    /// <summary>Unbind a group (completes once unbound).</summary>
    public sealed record Unbind(string Group, TaskCompletionSource<Done> Completion) : TopologyChange(Group, Completion);

    /// <summary>A binding change.</summary>
    public abstract record TopologyChange(string Group, TaskCompletionSource<Done> Completion);

    /// <summary>Asks for the open connection, once the queue is declared and bindings replayed.</summary>
    public sealed record GetConnection(PendingReply<RabbitMQ.Client.IConnection> Reply);

    /// <summary>Completes once connected (queue declared, bindings replayed).</summary>
    public sealed record AwaitConnected(PendingReply<Done> Reply);

    /// <summary>Close the connection for good; answered with <see cref="ShutdownComplete"/>.</summary>
    public sealed class Shutdown
    {
        public static Shutdown Instance { get; } = new();
        private Shutdown() { }
    }

    /// <summary>The connection is closed.</summary>
    public sealed class ShutdownComplete
    {
        public static ShutdownComplete Instance { get; } = new();
        private ShutdownComplete() { }
    }

    private sealed class Connect
    {
        public static Connect Instance { get; } = new();
        private Connect() { }
    }

    private sealed record Connected(IAmqpSession Session);

    private sealed record ConnectFailed(Exception Cause);

    private sealed record Disconnected(IAmqpSession Session, string Reason);

    private sealed record TopologyChangeDone(TopologyChange Change, IAmqpSession Session, Exception? Failure);

    private sealed record SessionClosed;

    /// <summary>Told to itself after the stash is drained: callers may now publish on the session directly.</summary>
    private sealed record OpenPublishShortcut(IAmqpSession Session);

    protected override void PreStart() => Self.Tell(Connect.Instance);

    protected override void PostStop()
    {
        _counters.ConnectionDown();
        // A restart or a stop must not leave a connection behind. (A clean shutdown has already
        // closed it and cleared the field.) Whatever ended it, the broker now requeues what the
        // session held unacked, so the router must drop its local copies.
        var session = _session;
        _session = null;
        if (session is not null)
        {
            _routes.ClosePublishShortcut(session);
            _router.Tell(new RouterActor.SessionLost(session, DeliveriesRequeued: !_options.ExclusiveQueue));
            _ = CloseQuietlyAsync(session);
        }
        foreach (var change in _topologyChanges) change.Completion.TrySetResult(Done.Instance);
    }

    protected override void OnReceive(object message) => Connecting(message);

    private void Connecting(object message)
    {
        switch (message)
        {
            case Connect:
                _attempt++;
                ConnectAsync(Context.Parent, Handlers()).PipeTo(Self,
                    success: session => new Connected(session),
                    failure: cause => new ConnectFailed(cause));
                break;
            case Connected connected:
                if (_shuttingDown)
                {
                    _ = CloseQuietlyAsync(connected.Session);
                    break;
                }
                if (!connected.Session.IsOpen || _lostDuringSetup.Contains(connected.Session))
                {
                    // Lost between its consume starting and now: its loss notice came while connecting.
                    _lostDuringSetup.Clear();
                    _ = CloseQuietlyAsync(connected.Session);
                    _log.Warning("Failure connecting to {0}: the connection was lost while it was being set up. Retrying in {1}",
                        _redactedHost, _options.ReconnectDelay);
                    Timers.StartSingleTimer(Connect.Instance, Connect.Instance, _options.ReconnectDelay);
                    break;
                }
                _lostDuringSetup.Clear();
                _session = connected.Session;
                _counters.ConnectionUp(isReconnect: EverConnected);
                EverConnected = true;
                _log.Info("Connected to {0} with queue {1}{2}", _redactedHost, _queueName,
                    _attempt > 1 ? $" after {_attempt} attempts" : "");
                Become(Active);
                Stash.UnstashAll();
                // Queued behind everything unstashed: earlier publishes go out first.
                Self.Tell(new OpenPublishShortcut(connected.Session));
                break;
            case ConnectFailed failed:
                if (_shuttingDown) break;
                LogConnectFailure(failed.Cause);
                Timers.StartSingleTimer(Connect.Instance, Connect.Instance, _options.ReconnectDelay);
                break;
            case Disconnected disconnected:
                // Either a session from a failed attempt, or the one being set up right now:
                // remember it, so that attempt is not taken into use.
                _lostDuringSetup.Add(disconnected.Session);
                break;
            case Shutdown:
                _shuttingDown = true;
                Stash.ClearStash();
                Sender.Tell(ShutdownComplete.Instance);
                Become(Closed);
                break;
            case TopologyChangeDone:
                break; // from the session before the restart: PostStop completed that change
            default:
                Stash.Stash();
                break;
        }
    }

    private void Active(object message)
    {
        var session = _session!;
        switch (message)
        {
            case Publish publish:
                _ = PublishAndCompleteAsync(session, publish, _log, _counters);
                _routes.QueuedPublishHandled();
                break;
            case OpenPublishShortcut open when open.Session == session:
                _routes.OpenPublishShortcut(session, _log);
                break;
            case OpenPublishShortcut:
                break;
            case TopologyChange change:
                _topologyChanges.Enqueue(change);
                RunNextTopologyChange(session);
                break;
            case TopologyChangeDone done when done.Session != session || _topologyChanges.Count == 0
                                              || !ReferenceEquals(_topologyChanges.Peek(), done.Change):
                // From a session before a restart: PostStop already completed that change.
                break;
            case TopologyChangeDone done:
                _topologyChangeRunning = false;
                _topologyChanges.Dequeue();
                if (done.Failure is null || !session.IsOpen)
                {
                    // A change that failed with its connection will be replayed (or is moot: the
                    // exclusive queue is gone) before any message flows again.
                    done.Change.Completion.TrySetResult(Done.Instance);
                }
                else
                {
                    done.Change.Completion.TrySetException(done.Failure);
                    _log.Error(done.Failure, "Could not change the binding of group {0}", done.Change.Group);
                }
                RunNextTopologyChange(session);
                break;
            case GetConnection get:
                if (session.Connection is { } connection) get.Reply.TrySucceed(connection);
                else get.Reply.TryFail(new NotSupportedException("This transport has no RabbitMQ.Client connection."));
                break;
            case AwaitConnected awaitConnected:
                awaitConnected.Reply.TrySucceed(Done.Instance);
                break;
            case Disconnected disconnected when disconnected.Session == session:
                _routes.ClosePublishShortcut(session);
                _log.Warning("Lost the connection to {0}: {1}. Messages not yet confirmed may be lost. Reconnecting.",
                    _redactedHost, disconnected.Reason);
                // The supervisor restarts this actor: PostStop closes the session and tells the
                // router, PreStart reconnects.
                throw new ConnectionLostException($"Lost the connection to {_redactedHost}: {disconnected.Reason}");
            case Disconnected:
                break;
            case Shutdown:
                _shuttingDown = true;
                _session = null;
                _routes.ClosePublishShortcut(session);
                var replyTo = Sender;
                CloseForGoodAsync(session).PipeTo(replyTo, success: () => ShutdownComplete.Instance,
                    failure: _ => ShutdownComplete.Instance);
                Become(Closed);
                break;
            case Connect or Connected or ConnectFailed:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Closed(object message)
    {
        switch (message)
        {
            case Publish publish:
                publish.Activity?.Dispose();
                publish.Reply.TryFail(new ChannelLayerClosedException());
                _routes.QueuedPublishHandled();
                break;
            case TopologyChange change:
                change.Completion.TrySetException(new ChannelLayerClosedException());
                break;
            case GetConnection get:
                get.Reply.TryFail(new ChannelLayerClosedException());
                break;
            case AwaitConnected awaitConnected:
                awaitConnected.Reply.TryFail(new ChannelLayerClosedException());
                break;
            case Connected connected:
                _ = CloseQuietlyAsync(connected.Session);
                break;
            case Shutdown:
                Sender.Tell(ShutdownComplete.Instance);
                break;
        }
    }

    private AmqpSessionHandlers Handlers()
    {
        var self = Self;
        var router = _router;
        var routes = _routes;
        var log = _log;
        var counters = _counters;
        var queueName = _queueName;
        var fingerprint = !_options.ExclusiveQueue;
        var maxSize = _options.MaxMessageSize;
        return new AmqpSessionHandlers(
            OnDelivery: (session, delivery) =>
            {
                var deliveryTag = delivery.DeliveryTag;
                var body = delivery.Body;
                // Runs on the client's consumer thread; the body is only valid during this call.
                if (body.Length > maxSize)
                {
                    counters.Malformed();
                    log.Warning("Dropped a message of {0} bytes from queue {1}: larger than MaxMessageSize ({2} bytes)",
                        body.Length, queueName, maxSize);
                    session.Ack(deliveryTag);
                    return;
                }
                DecodedMessage decoded;
                try
                {
                    decoded = WireCodec.Decode(body);
                }
                catch (MalformedMessageException e)
                {
                    counters.Malformed();
                    log.Warning("Dropped a malformed message from queue {0}: {1}", queueName, e.Message);
                    session.Ack(deliveryTag);
                    return;
                }
                // A surviving queue redelivers what a lost connection held unacked; the fingerprint
                // lets the router recognise a redelivery of a message it already handed over.
                var print = fingerprint ? System.IO.Hashing.XxHash3.HashToUInt64(body.Span) : 0UL;
                if (routes.TryDeliverDirectly(session, deliveryTag, decoded, delivery.Redelivered, print, delivery.Trace, router)) return;
                routes.InboundQueued();
                router.Tell(new RouterActor.Inbound(session, deliveryTag, decoded)
                {
                    Redelivered = delivery.Redelivered,
                    Fingerprint = print,
                    Trace = delivery.Trace,
                });
            },
            OnDisconnected: (session, reason) => self.Tell(new Disconnected(session, reason)));
    }

    private async Task<IAmqpSession> ConnectAsync(IActorRef parent, AmqpSessionHandlers handlers)
    {
        IAmqpSession session;
        using (var timeout = new CancellationTokenSource(_options.ConnectTimeout))
            session = await _transport.ConnectAsync(handlers, timeout.Token).ConfigureAwait(false);
        try
        {
            var ct = CancellationToken.None;
            if (_options.ExclusiveQueue)
            {
                // channels_rabbitmq checks first: an existing queue of this name belongs to another
                // connection (our exclusive queue dies with our connection), so declaring it would
                // fail or, worse, share it. Wait for that connection to go away instead.
                if (await session.QueueExistsAsync(_queueName, ct).ConfigureAwait(false))
                    throw new QueueNameConflictException(_queueName);
            }
            await session.DeclareExchangeAsync(_options.GroupsExchange, ct).ConfigureAwait(false);
            await session.DeclareQueueAsync(new QueueDeclaration(_queueName, _options.RemoteCapacity, _options.Expiry,
                Exclusive: _options.ExclusiveQueue, Expires: _options.ExclusiveQueue ? null : _options.QueueGracePeriod), ct).ConfigureAwait(false);
            try
            {
                // A queue that outlives its connection is found, not created, on reconnect: an
                // exclusive consume is what keeps a second process from reading it.
                await session.StartConsumingAsync(_queueName, (ushort)_options.LocalCapacity, exclusive: !_options.ExclusiveQueue, ct)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (!_options.ExclusiveQueue && IsAccessRefused(e))
            {
                throw new QueueNameConflictException(_queueName);
            }
            // Bind after the exclusive consume succeeded: a layer that lost the queue-name conflict
            // must not add its groups to the other layer's queue.
            var groups = await parent.Ask<GroupMembershipActor.Groups>(GroupMembershipActor.GetGroups.Instance,
                TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            foreach (var group in groups.Names)
                await session.BindAsync(_queueName, _options.GroupsExchange, group, ct).ConfigureAwait(false);
            if (!_options.ExclusiveQueue)
            {
                // The queue survived: an unbind cut short by the disconnect must be done now.
                foreach (var group in groups.LeftSinceLastReplay)
                    await session.UnbindAsync(_queueName, _options.GroupsExchange, group, ct).ConfigureAwait(false);
            }
            return session;
        }
        catch
        {
            await CloseQuietlyAsync(session).ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsAccessRefused(Exception e) =>
        e is RabbitMQ.Client.Exceptions.OperationInterruptedException { ShutdownReason.ReplyCode: 403 }
        || e.InnerException is { } inner && IsAccessRefused(inner);

    private void LogConnectFailure(Exception cause)
    {
        cause = cause is AggregateException aggregate ? aggregate.GetBaseException() : cause;
        if (cause is QueueNameConflictException)
            _log.Warning("Failure connecting to {0}: queue {1} is held by another connection. Retrying in {2}",
                _redactedHost, _queueName, _options.ReconnectDelay);
        else
            _log.Warning("Failure connecting to {0}: {1}: {2}. Retrying in {3}",
                _redactedHost, cause.GetType().Name, Describe(cause), _options.ReconnectDelay);
    }

    private static string Describe(Exception cause)
    {
        var parts = new List<string>();
        for (var e = cause; e is not null && parts.Count < 4; e = e.InnerException)
            if (!parts.Contains(e.Message)) parts.Add(e.Message);
        return string.Join(" ← ", parts);
    }

    /// <summary>
    /// Publishes on the open session and completes the caller's reply from the broker's
    /// confirmation. Runs on this actor for a queued publish, and on the caller's thread for one
    /// that takes the shortcut (see <see cref="LayerRoutes.TryGetPublishSession"/>).
    /// </summary>
    internal static async Task PublishAndCompleteAsync(IAmqpSession session, Publish publish, ILoggingAdapter log, LayerCounters counters)
    {
        if (publish.Reply.IsDone)
        {
            publish.Activity?.Dispose(); // cancelled while waiting for a connection
            return;
        }
        Exception? failure = null;
        try
        {
            await session.PublishAsync(publish.Exchange, publish.RoutingKey, publish.Body, publish.Trace, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }
        failure = Settle(failure, publish, log, counters);
        if (failure is null) publish.Reply.TrySucceed(Done.Instance);
        else publish.Reply.TryFail(failure);
    }

    /// <summary>Counts, logs and ends the activity of a finished publish; returns what the caller must fail with, if anything.</summary>
    private static Exception? Settle(Exception? failure, Publish publish, ILoggingAdapter log, LayerCounters counters)
    {
        failure = failure is AggregateException aggregate ? aggregate.GetBaseException() : failure;
        if (failure is null) counters.MessageSent();
        else if (failure is PublishRejectedException) counters.ChannelWasFull();
        if (publish.Activity is { } activity)
        {
            if (failure is not null) activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error, failure.GetType().Name);
            activity.Dispose();
        }
        switch (failure)
        {
            case null:
                return null;
            case PublishRejectedException when publish.IsGroup:
                // As channels_rabbitmq: a full member queue must not fail the whole group send.
                log.Warning("A message to group {0} was dropped by a full queue", publish.Destination);
                return null;
            case PublishRejectedException:
                return new ChannelFullException($"Channel {publish.Destination} is full.");
            case ConnectionLostException:
                // At-most-once: the broker may or may not have it; never publish it twice.
                log.Warning("The connection closed before the broker confirmed a message to {0}; it may be lost", publish.Destination);
                return null;
            default:
                return failure;
        }
    }

    private void RunNextTopologyChange(IAmqpSession session)
    {
        if (_topologyChangeRunning || _topologyChanges.Count == 0) return;
        var change = _topologyChanges.Peek();
        _topologyChangeRunning = true;
        var operation = change is Bind
            ? session.BindAsync(_queueName, _options.GroupsExchange, change.Group, CancellationToken.None)
            : session.UnbindAsync(_queueName, _options.GroupsExchange, change.Group, CancellationToken.None);
        operation.PipeTo(Self,
            success: () => new TopologyChangeDone(change, session, null),
            failure: e => new TopologyChangeDone(change, session, e));
    }

    private async Task CloseForGoodAsync(IAmqpSession session)
    {
        if (!_options.ExclusiveQueue && session.IsOpen)
        {
            // A clean close: nobody will come back for this queue, so do not leave it for x-expires.
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await session.DeleteQueueAsync(_queueName, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log.Warning("Could not delete queue {0} on close ({1}); it expires by itself in {2}",
                    _queueName, e.Message, _options.QueueGracePeriod);
            }
        }
        await CloseQuietlyAsync(session).ConfigureAwait(false);
    }

    private static async Task CloseQuietlyAsync(IAmqpSession session)
    {
        try
        {
            await session.CloseAsync().ConfigureAwait(false);
        }
        catch
        {
            // Closing a broken connection can fail; there is nothing left to do with it.
        }
        try
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
        catch
        {
            // As above.
        }
    }
}

/// <summary>Another connection holds the layer's queue name.</summary>
internal sealed class QueueNameConflictException(string queueName)
    : Exception($"Queue {queueName} already exists: another connection holds it.");
