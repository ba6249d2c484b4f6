using Akka.Actor;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A channel layer on RabbitMQ, wire-compatible with the Python <c>channels_rabbitmq</c>: the
/// Task API over the layer's actors. Validation and encoding happen on the caller's thread, so
/// bad input throws from the call, before anything is published; every other outcome — a closed
/// layer included — is in the returned task. A receive goes straight into its channel's inbox
/// when the channel lives (<see cref="Actors.ChannelInbox"/>), through the router otherwise; a
/// send goes to the open session or waits in the connection actor. Thread-safe.
/// </summary>
public sealed class RabbitMqChannelLayer : IActorChannelLayer, IDisposable, IReturnsUnreceived
{
    private static readonly IReadOnlyCollection<string> SupportedExtensions = ["groups"];
    private static long _instances;

    private readonly RabbitMqChannelLayerOptions _options;
    private readonly ActorSystem _system;
    private readonly CancellationTokenSource _closed = new();
    private readonly Task<ChannelLayerActor.LayerActors> _actors;
    private readonly object _closeLock = new();
    private readonly object _startLock = new();
    private readonly Queue<Action<ChannelLayerActor.LayerActors?>> _waitingForStart = new();
    private volatile bool _started;
    private readonly LayerCounters _counters;
    private readonly LayerRoutes _routes;
    private Task? _closeTask;

    /// <summary>Starts a layer in <paramref name="system"/>; it connects in the background.</summary>
    public RabbitMqChannelLayer(ActorSystem system, RabbitMqChannelLayerOptions options)
        : this(system, options, transport: null)
    {
    }

    internal RabbitMqChannelLayer(ActorSystem system, RabbitMqChannelLayerOptions options, IAmqpTransport? transport)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _system = system;
        ChannelMailbox.Register(system);
        StartScheduler(system);
        QueueName = options.QueueName ?? Names.NewQueueName();
        transport ??= new RabbitMqTransport(options, $"ChannelsRabbitMq.Akka {QueueName}",
            global::Akka.Event.Logging.GetLogger(system, $"ChannelsRabbitMq.Akka.Transport({QueueName})"));
        var started = new TaskCompletionSource<ChannelLayerActor.LayerActors>(TaskCreationOptions.RunContinuationsAsynchronously);
        _actors = started.Task;
        _counters = new LayerCounters(QueueName);
        _routes = new LayerRoutes(options.LocalCapacity, _counters);
        ChannelLayerTelemetry.Register(_counters);
        _actors.ContinueWith(DrainWaitingForStart, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        // Unique per instance: two layers in one actor system may share a queue name (and then
        // conflict on the broker, as two processes would).
        var instance = Interlocked.Increment(ref _instances);
        Actor = system.ActorOf(ChannelLayerActor.Props(this, options, QueueName, transport, _counters, _routes, started),
            $"channel-layer-{QueueName}-{instance}");
    }

    /// <summary>
    /// Akka's default scheduler starts on its first use and blocks that caller until its worker
    /// runs on the thread pool. Were the first user one of the layer's actors (the router's
    /// statistics timer, the connection's Ask), a dispatcher thread would wait there, and on a busy
    /// pool (a test run's first seconds) the first connection — and every join made before it —
    /// waited for the pool to grow, about a second. Started here, on the caller's thread, it is
    /// running before any actor needs it (a no-op when the system has used it already).
    /// </summary>
    private static void StartScheduler(ActorSystem system) =>
        system.Scheduler.Advanced.ScheduleOnceCancelable(TimeSpan.FromDays(1), static () => { }).Cancel();

    /// <inheritdoc />
    public IActorRef Actor { get; }

    /// <summary>The layer's counters, for specs.</summary>
    internal LayerCounters Counters => _counters;

    /// <summary>The router actor, for specs.</summary>
    internal Task<IActorRef> RouterAsync => _actors.ContinueWith(t => t.Result.Router, TaskScheduler.Default);

    /// <inheritdoc />
    public ChannelLayerStatistics GetStatistics() => _counters.Snapshot();

    /// <inheritdoc />
    public Task SubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default)
    {
        ValidateOwnChannel(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        if (IsClosed) return ClosedTask<Done>();
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Router.Tell(new RouterActor.Subscribe(channel, subscriber, reply)));
    }

    /// <inheritdoc />
    public Task UnsubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default)
    {
        ValidateOwnChannel(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        if (IsClosed) return ClosedTask<Done>();
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Router.Tell(new RouterActor.Unsubscribe(channel, subscriber, reply)));
    }

    /// <summary>The RabbitMQ queue of this layer: the part before <c>!</c> of its channel names.</summary>
    public string QueueName { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<string> Extensions => SupportedExtensions;

    /// <inheritdoc />
    public Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default)
    {
        var channel = Names.NewChannelName(QueueName, prefix);
        return IsClosed ? ClosedTask<string>() : Task.FromResult(channel);
    }

    /// <inheritdoc />
    public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
    {
        ValidateDestinationChannel(channel);
        ArgumentNullException.ThrowIfNull(message);
        var body = WireCodec.Encode(message, channel, null, _options.MaxMessageSize);
        if (IsClosed) return ClosedTask<Done>();
        return Publish(string.Empty, Names.QueueOf(channel), body, channel, isGroup: false, cancellationToken);
    }

    /// <inheritdoc />
    public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
    {
        Names.ValidateGroup(group);
        ArgumentNullException.ThrowIfNull(message);
        var body = WireCodec.Encode(message, null, group, _options.MaxMessageSize);
        if (IsClosed) return ClosedTask<Done>();
        return Publish(_options.GroupsExchange, group, body, group, isGroup: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default) =>
        ReceiveAsync(channel, cancellationToken, asker: null);

    /// <summary>
    /// A receive for the actor protocol: one that <paramref name="asker"/> has abandoned (a
    /// temporary <c>Ask</c> actor that timed out) takes no message.
    /// </summary>
    internal Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken, IActorRef? asker)
    {
        ArgumentNullException.ThrowIfNull(channel);
        // The channel lives: straight into its inbox (a buffered copy at once, or a waiting
        // receiver). Its name was checked when its inbox was made, so it is not checked again.
        if (!IsClosed && !cancellationToken.IsCancellationRequested && _routes.Inboxes.TryGetValue(channel, out var inbox) &&
            inbox.Receive(cancellationToken, asker) is { } received)
            return received;
        ValidateOwnChannel(channel);
        if (IsClosed) return ClosedTask<IReadOnlyDictionary<string, object?>>();
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<IReadOnlyDictionary<string, object?>>(cancellationToken);
        return ReceiveThroughRouter(channel, cancellationToken, asker);
    }

    // None lives (or it ended as we reached it): the router starts one and hands it this receiver.
    // A method of its own: the lambda's captures would otherwise be allocated on every receive.
    private Task<IReadOnlyDictionary<string, object?>> ReceiveThroughRouter(string channel, CancellationToken cancellationToken, IActorRef? asker)
    {
        var waiter = new ReceiveWaiter(asker);
        waiter.CancelWith(cancellationToken);
        return WithActors(waiter, actors => actors.Router.Tell(new RouterActor.WaitForMessage(channel, waiter)));
    }

    /// <inheritdoc />
    void IReturnsUnreceived.ReturnUnreceived(string channel, IReadOnlyDictionary<string, object?> message)
    {
        // A message was received, so the actors have started; once closed, nobody receives it anyway.
        if (_actors.IsCompletedSuccessfully && !IsClosed)
            _actors.Result.Router.Tell(new RouterActor.ReturnUnreceived(channel, message));
    }

    /// <summary>For specs: the channel's live inbox, if any.</summary>
    internal ChannelInbox? LiveInbox(string channel) => _routes.Inboxes.GetValueOrDefault(channel);

    /// <inheritdoc />
    public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default)
    {
        Names.ValidateGroup(group);
        ValidateOwnChannel(channel);
        if (IsClosed) return ClosedTask<Done>();
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Groups.Tell(new GroupMembershipActor.Add(group, channel, reply)));
    }

    /// <inheritdoc />
    public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default)
    {
        Names.ValidateGroup(group);
        Names.ValidateChannel(channel);
        if (IsClosed) return ClosedTask<Done>();
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Groups.Tell(new GroupMembershipActor.Discard(group, channel, reply)));
    }

    /// <summary>
    /// An open connection, for publishing to your own queues. Like the original's connection
    /// future it completes only once the layer's queue is declared and every group binding is
    /// replayed, and waits while the layer reconnects. Do not close it: the layer owns it.
    /// </summary>
    public Task<RabbitMQ.Client.IConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        if (IsClosed) return ClosedTask<RabbitMQ.Client.IConnection>();
        var reply = new PendingReply<RabbitMQ.Client.IConnection>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Connection.Tell(new ConnectionActor.GetConnection(reply)));
    }

    /// <summary>
    /// Completes once the layer is connected: its queue declared, every group binding replayed
    /// and its consumer started. Waits while it (re)connects. For readiness checks and tests.
    /// </summary>
    public Task WaitForConnectionAsync(CancellationToken cancellationToken = default)
    {
        if (IsClosed) return ClosedTask<Done>();
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Connection.Tell(new ConnectionActor.AwaitConnected(reply)));
    }

    /// <inheritdoc />
    public Task CloseAsync()
    {
        lock (_closeLock)
        {
            return _closeTask ??= CloseOnceAsync();
        }
    }

    /// <summary>
    /// One of the layer's actors whose state cannot be rebuilt failed: the layer closes, and every
    /// call fails with a <see cref="ChannelLayerClosedException"/> that carries the cause.
    /// </summary>
    internal Task FailAsync(Exception cause)
    {
        Interlocked.CompareExchange(ref _failure, cause, null);
        return CloseAsync();
    }

    private Exception? _failure;

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync().ConfigureAwait(false);

    /// <summary>Closes the layer and waits for it (prefer <see cref="DisposeAsync"/>).</summary>
    public void Dispose() => CloseAsync().GetAwaiter().GetResult();

    private async Task CloseOnceAsync()
    {
        // From here on every call throws, and every pending call fails, with ChannelLayerClosedException.
        _closed.Cancel();
        _counters.LayerClosed();
        ChannelLayerTelemetry.Unregister(_counters);
        ChannelLayerActor.LayerActors actors;
        try
        {
            actors = await _actors.ConfigureAwait(false);
        }
        catch (ChannelLayerClosedException)
        {
            return;
        }
        var stopped = new TaskCompletionSource<Done>(TaskCreationOptions.RunContinuationsAsynchronously);
        actors.Root.Tell(new ChannelLayerActor.Close(stopped));
        // If the actor system is already gone, the actors are too.
        await Task.WhenAny(stopped.Task, _system.WhenTerminated).ConfigureAwait(false);
    }

    private Task Publish(string exchange, string routingKey, byte[] body, string destination, bool isGroup, CancellationToken cancellationToken)
    {
        var (activity, trace) = Tracing.StartSend(destination, isGroup, QueueName);
        // The hot path: straight on the open session, no actor hop, and the caller resumes on the
        // thread of the broker's confirmation (the client's, on the thread pool), as with the client itself.
        var direct = _routes.TryGetPublishSession(out var session, out var log);
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token, completedOffActorThreads: direct);
        var publish = new ConnectionActor.Publish(exchange, routingKey, body, destination, isGroup, reply)
        {
            Activity = activity,
            Trace = trace,
            StartedAt = ChannelLayerTelemetry.OperationDuration.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0,
        };
        if (reply.IsDone)
        {
            activity?.Dispose();
            return reply.Task;
        }
        if (direct)
        {
            _ = ConnectionActor.PublishAndCompleteAsync(session, publish, log, _counters);
            return reply.Task;
        }
        return PublishViaConnectionActor(publish);
    }

    private Task PublishViaConnectionActor(ConnectionActor.Publish publish)
    {
        _routes.PublishQueued(); // later publishes wait until this one has left the connection actor
        return WithActors(publish.Reply, actors => actors.Connection.Tell(publish));
    }

    // reply: completed by the actors, or failed here when they are gone before it reached them.
    private Task<T> WithActors<T>(TaskCompletionSource<T> reply, Action<ChannelLayerActor.LayerActors> send)
    {
        if (reply.Task.IsCompleted) return reply.Task;
        if (_started)
        {
            send(_actors.Result);
            // Told after the close began (the close is signalled before the actors hear of it):
            // the actors may have stopped already.
            if (IsClosed) reply.TrySetException(new ChannelLayerClosedException());
            return reply.Task;
        }
        lock (_startLock)
        {
            if (!_started)
            {
                // The actors are still starting: keep calls in order until they are up.
                _waitingForStart.Enqueue(actors =>
                {
                    if (actors is null) reply.TrySetException(new ChannelLayerClosedException());
                    else send(actors);
                    // Drained after the close began: the actors may have stopped already.
                    if (IsClosed) reply.TrySetException(new ChannelLayerClosedException());
                });
                return reply.Task;
            }
        }
        send(_actors.Result);
        return reply.Task;
    }

    private void DrainWaitingForStart(Task<ChannelLayerActor.LayerActors> started)
    {
        var actors = started.IsCompletedSuccessfully ? started.Result : null;
        lock (_startLock)
        {
            while (_waitingForStart.TryDequeue(out var send)) send(actors);
            _started = started.IsCompletedSuccessfully;
        }
    }

    private bool IsClosed => _closed.IsCancellationRequested;

    // TAP: a closed layer is state, reported in the task (only bad arguments throw from the call).
    private Task<T> ClosedTask<T>() => Task.FromException<T>(Volatile.Read(ref _failure) is { } cause
        ? new ChannelLayerClosedException($"The channel layer failed and closed: {cause.Message}", cause)
        : new ChannelLayerClosedException());

    private static void ValidateDestinationChannel(string channel)
    {
        Names.ValidateChannel(channel);
        if (!Names.IsProcessSpecific(channel))
            throw new NotSupportedException(
                $"'{channel}' is a normal channel (no '!'); this layer supports only process-specific channels. Use RabbitMQ directly for work queues.");
    }

    private void ValidateOwnChannel(string channel)
    {
        ValidateDestinationChannel(channel);
        var separator = channel.IndexOf('!');
        if (!channel.AsSpan(0, separator < 0 ? channel.Length : separator).SequenceEqual(QueueName))
            throw new ArgumentException($"Channel '{channel}' does not belong to this layer (queue {QueueName}).", nameof(channel));
    }
}
