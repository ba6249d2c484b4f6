using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Owns the connection to RabbitMQ. While connecting it stashes publishes and binding changes;
/// each attempt connects (on the host after the one just lost, when <c>Host</c> lists several),
/// declares the groups exchange and the queue (in <see cref="QueueMode.Exclusive"/> after a
/// passive declare that detects a queue name held elsewhere), starts consuming, replays every
/// group binding — only then does traffic flow. A failed attempt is retried after a backoff
/// (<c>ReconnectDelay</c> doubled per consecutive failure up to <c>MaxReconnectDelay</c>, ±20 %),
/// forever; each distinct cause is logged once, at Error when it needs an operator (or the
/// layer never connected) with the fix where known, then at Debug, with a Warning reminder every
/// minute, and is shown in the statistics. When an established connection is lost, the actor
/// fails on purpose: its supervisor restarts it, and the restart is the reconnect, at once.
/// </summary>
/// <remarks>
/// <para>
/// Publishes are not serialised: each one is handed to the session at once and completes the
/// caller's task from the client's confirmation. A publish the session refused before any byte
/// left (<see cref="PublishNotSentException"/>: the connection was already closing) waits for
/// the next session; one that may have reached the broker and was not confirmed is at-most-once
/// ("may be lost"). Binding changes run one at a time, in order, so a discard followed by an add
/// of the same group cannot be reordered on the wire.
/// </para>
/// <para>
/// Consume before bind: in <see cref="QueueMode.Durable"/> the queue outlives connections, so
/// the exclusive consume is what proves this connection owns it; binding first could add this
/// layer's groups to the queue of another live process with the same queue name. The cost is
/// that deliveries may arrive on a session whose setup then fails: every session abandoned after
/// its consume started is reported to the router as lost (<see cref="RouterActor.SessionLost"/>),
/// as a lost established one is, so its unacked deliveries (requeued by the broker) are not
/// delivered twice.
/// </para>
/// <para>
/// A failure other than a lost connection restarts the actor too: stashed publishes and binding
/// changes go back to the mailbox, and the call whose handling failed is failed loudly (a
/// binding change is completed: the restart's replay binds every group).
/// </para>
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
    private int _failures;
    private readonly QueueMode _queueMode;
    private readonly Dictionary<string, FailureStreak> _failureStreaks = [];

    // The actor that owns each live session: a publish the session refused before sending goes
    // back to it, whichever thread published it (the caller's, on the shortcut).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IAmqpSession, IActorRef> Owners = new();

    private sealed class FailureStreak(DateTimeOffset since)
    {
        public DateTimeOffset Since { get; } = since;
        public DateTimeOffset LastLogged { get; set; } = since;
        public int Attempts { get; set; } = 1;
    }

    private bool Durable => _queueMode == QueueMode.Durable;

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
        _queueMode = options.EffectiveQueueMode;
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

        /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the call, for the duration histogram (0 when nobody listens).</summary>
        public long StartedAt { get; init; }
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

    /// <summary>A publish <paramref name="FailedOn"/> refused before sending: it waits for the next session.</summary>
    private sealed record Requeued(Publish Publish, IAmqpSession FailedOn);

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
            _router.Tell(new RouterActor.SessionLost(session, DeliveriesRequeued: Durable));
            _ = CloseQuietlyAsync(session);
        }
        foreach (var change in _topologyChanges) change.Completion.TrySetResult(Done.Instance);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Stashed publishes and binding changes go back to the mailbox for the next incarnation.
        Stash.UnstashAll();
        // The message being handled when the actor failed would otherwise vanish with it.
        if (reason is not ConnectionLostException) FailInterruptedMessage(message);
        base.PreRestart(reason, message);
    }

    /// <summary>Answers the caller of a message whose handling crashed the actor: loudly, never silently dropped.</summary>
    private void FailInterruptedMessage(object message)
    {
        var failure = new InvalidOperationException("The channel layer's connection actor failed while handling this call (see the error logged); it restarts.");
        switch (message)
        {
            case Publish publish:
                publish.Activity?.Dispose();
                publish.Reply.TryFail(failure);
                _routes.QueuedPublishHandled();
                break;
            case Requeued requeued:
                requeued.Publish.Activity?.Dispose();
                requeued.Publish.Reply.TryFail(failure);
                break;
            case TopologyChange change:
                // Membership is the group actor's; the restart's replay binds every group anyway.
                change.Completion.TrySetResult(Done.Instance);
                break;
            case GetConnection get:
                get.Reply.TryFail(failure);
                break;
            case AwaitConnected awaitConnected:
                awaitConnected.Reply.TryFail(failure);
                break;
        }
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
                    Abandon(connected.Session);
                    break;
                }
                if (!connected.Session.IsOpen || _lostDuringSetup.Contains(connected.Session))
                {
                    // Lost between its consume starting and now: its loss notice came while connecting.
                    _lostDuringSetup.Clear();
                    Abandon(connected.Session);
                    RetryAfter(new SetupLostException());
                    break;
                }
                _lostDuringSetup.Clear();
                _session = connected.Session;
                Owners.AddOrUpdate(connected.Session, Self);
                _counters.ConnectionUp(isReconnect: EverConnected, connected.Session);
                EverConnected = true;
                _log.Info("Connected to {0} with queue {1}{2}", _redactedHost, _queueName,
                    _attempt > 1 ? $" after {_attempt} attempts" : "");
                _failures = 0;
                _failureStreaks.Clear();
                Become(Active);
                Stash.UnstashAll();
                // Queued behind everything unstashed: earlier publishes go out first.
                Self.Tell(new OpenPublishShortcut(connected.Session));
                break;
            case ConnectFailed failed:
                if (_shuttingDown) break;
                RetryAfter(failed.Cause);
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
            case Requeued requeued when requeued.FailedOn == session:
                // This session is being lost (its loss notice is on its way): the next one sends it.
                Stash.Stash();
                break;
            case Requeued requeued:
                _ = PublishAndCompleteAsync(session, requeued.Publish, _log, _counters);
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
            case Requeued requeued:
                requeued.Publish.Activity?.Dispose();
                requeued.Publish.Reply.TryFail(new ChannelLayerClosedException());
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
                Abandon(connected.Session);
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
        var fingerprint = Durable;
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
            OnDisconnected: (session, reason) =>
            {
                // Disconnected from now on (statistics, health check), not once the actor hears of it.
                counters.ConnectionLost(session);
                self.Tell(new Disconnected(session, reason));
            });
    }

    private async Task<IAmqpSession> ConnectAsync(IActorRef parent, AmqpSessionHandlers handlers)
    {
        IAmqpSession session;
        using (var timeout = new CancellationTokenSource(_options.ConnectTimeout))
            session = await _transport.ConnectAsync(handlers, timeout.Token).ConfigureAwait(false);
        var durable = Durable;
        var consumeStarted = false;
        try
        {
            var ct = CancellationToken.None;
            if (!durable)
            {
                // channels_rabbitmq checks first: an existing queue of this name belongs to another
                // connection (our exclusive queue dies with our connection), so declaring it would
                // fail or, worse, share it. Wait for that connection to go away instead.
                if (await session.QueueExistsAsync(_queueName, ct).ConfigureAwait(false))
                    throw new QueueNameConflictException(_queueName);
            }
            await session.DeclareExchangeAsync(_options.GroupsExchange, ct).ConfigureAwait(false);
            await session.DeclareQueueAsync(new QueueDeclaration(_queueName, _options.RemoteCapacity, _options.Expiry,
                Exclusive: !durable, Expires: durable ? _options.QueueGracePeriod : null, Durable: durable), ct).ConfigureAwait(false);
            consumeStarted = true;
            try
            {
                // A queue that outlives its connection is found, not created, on reconnect: an
                // exclusive consume is what keeps a second process from reading it.
                await session.StartConsumingAsync(_queueName, (ushort)_options.LocalCapacity, exclusive: durable, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (durable && IsExclusiveUse(e))
            {
                throw new QueueNameConflictException(_queueName);
            }
            // Bind after the exclusive consume succeeded: a layer that lost the queue-name conflict
            // must not add its groups to the other layer's queue.
            var groups = await parent.Ask<GroupMembershipActor.Groups>(GroupMembershipActor.GetGroups.Instance,
                TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            foreach (var group in groups.Names)
                await session.BindAsync(_queueName, _options.GroupsExchange, group, ct).ConfigureAwait(false);
            if (durable)
            {
                // The queue survived: an unbind cut short by the disconnect must be done now.
                foreach (var group in groups.LeftSinceLastReplay)
                    await session.UnbindAsync(_queueName, _options.GroupsExchange, group, ct).ConfigureAwait(false);
            }
            // Only now may the group actor forget them: a replay that failed must not lose an unbind.
            parent.Tell(new GroupMembershipActor.ReplayDone(groups.LeftSinceLastReplay));
            return session;
        }
        catch
        {
            await CloseQuietlyAsync(session).ConfigureAwait(false);
            // Its deliveries may have reached the router: their local copies must go (the broker
            // requeues a durable queue's unacked messages), as for any lost session.
            if (consumeStarted) _router.Tell(new RouterActor.SessionLost(session, DeliveriesRequeued: durable));
            throw;
        }
    }

    /// <summary>Closes a session whose consume started but which is not taken into use, and tells the router it is gone.</summary>
    private void Abandon(IAmqpSession session)
    {
        // CloseAsync marks the session closed before its first await: no delivery follows the notice.
        var closing = CloseQuietlyAsync(session);
        _router.Tell(new RouterActor.SessionLost(session, DeliveriesRequeued: Durable));
        _ = closing;
    }

    // 403 on an exclusive consume: "queue '…' in vhost '…' in exclusive use" (another consumer
    // holds it), as opposed to a missing read permission ("access to queue '…' … refused for user").
    private static bool IsExclusiveUse(Exception e) =>
        e is RabbitMQ.Client.Exceptions.OperationInterruptedException { ShutdownReason: { ReplyCode: 403 } reason }
        && !reason.ReplyText.Contains("refused for user", StringComparison.Ordinal)
        || e.InnerException is { } inner && IsExclusiveUse(inner);

    /// <summary>Logs a failed attempt (once per distinct cause, see the class summary) and schedules the next one.</summary>
    private void RetryAfter(Exception cause)
    {
        _failures++;
        var delay = ReconnectBackoff.Delay(_failures, _options.ReconnectDelay, _options.MaxReconnectDelay, Random.Shared.NextDouble());
        var failure = ConnectFailure.Of(cause, _queueName, _options);
        var now = DateTimeOffset.UtcNow;
        var text = $"Failure connecting to {_redactedHost}: {failure.Text}. Retrying in {delay.TotalSeconds:0.###} s";
        if (!_failureStreaks.TryGetValue(failure.Key, out var streak))
        {
            streak = new FailureStreak(now);
            _failureStreaks[failure.Key] = streak;
            // A layer that never connected is being set up: whatever stops it needs someone.
            if (failure.NeedsAction || !EverConnected) _log.Error("{0}", text);
            else _log.Warning("{0}", text);
        }
        else
        {
            streak.Attempts++;
            if (now - streak.LastLogged >= _options.ConnectFailureReminder)
            {
                streak.LastLogged = now;
                _log.Warning("{0} (still failing: {1} attempts since {2:O})", text, streak.Attempts, streak.Since);
            }
            else
            {
                _log.Debug("{0}", text);
            }
        }
        _counters.ConnectionFailed(failure.Text, streak.Since);
        Timers.StartSingleTimer(Connect.Instance, Connect.Instance, delay);
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
        if (failure is PublishNotSentException && Owners.TryGetValue(session, out var owner))
        {
            // Nothing reached the broker: publishing it on the next session cannot duplicate it.
            owner.Tell(new Requeued(publish, session));
            return;
        }
        failure = Settle(failure, publish, log, counters);
        if (failure is null) publish.Reply.TrySucceed(Done.Instance);
        else publish.Reply.TryFail(failure);
    }

    /// <summary>Counts, logs and ends the activity of a finished publish; returns what the caller must fail with, if anything.</summary>
    private static Exception? Settle(Exception? failure, Publish publish, ILoggingAdapter log, LayerCounters counters)
    {
        failure = failure is AggregateException aggregate ? aggregate.GetBaseException() : failure;
        counters.PublishSettled(publish.StartedAt, failure?.GetType().Name);
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
            case PublishNotSentException:
                // Its session has no owner to wait with (a fake's, or one already forgotten):
                // nothing reached the broker, so say so rather than "sent".
                return failure;
            case ConnectionLostException:
                // At-most-once: the broker may or may not have it; never publish it twice.
                counters.LostWithConnection();
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
        if (Durable && session.IsOpen)
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
