using Akka.Actor;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A channel layer on RabbitMQ, wire-compatible with the Python <c>channels_rabbitmq</c>: the
/// Task API over the layer's actors. Validation and encoding happen on the caller's thread, so
/// bad input throws before anything is published; everything else crosses into the actors by
/// message. Thread-safe.
/// </summary>
public sealed class RabbitMqChannelLayer : IActorChannelLayer, IDisposable
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
        QueueName = options.QueueName ?? Names.NewQueueName();
        transport ??= new RabbitMqTransport(options, $"ChannelsRabbitMq.Akka {QueueName}",
            global::Akka.Event.Logging.GetLogger(system, $"ChannelsRabbitMq.Akka.Transport({QueueName})"));
        var started = new TaskCompletionSource<ChannelLayerActor.LayerActors>(TaskCreationOptions.RunContinuationsAsynchronously);
        _actors = started.Task;
        _counters = new LayerCounters(QueueName);
        _routes = new LayerRoutes(options.LocalCapacity);
        ChannelLayerTelemetry.Register(_counters);
        _actors.ContinueWith(DrainWaitingForStart, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        // Unique per instance: two layers in one actor system may share a queue name (and then
        // conflict on the broker, as two processes would).
        var instance = Interlocked.Increment(ref _instances);
        Actor = system.ActorOf(ChannelLayerActor.Props(this, options, QueueName, transport, _counters, _routes, started),
            $"channel-layer-{QueueName}-{instance}");
    }

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
        ThrowIfClosed();
        ValidateOwnChannel(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Router.Tell(new RouterActor.Subscribe(channel, subscriber, reply)));
    }

    /// <inheritdoc />
    public Task UnsubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ValidateOwnChannel(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
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
        ThrowIfClosed();
        return Task.FromResult(Names.NewChannelName(QueueName, prefix));
    }

    /// <inheritdoc />
    public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ValidateDestinationChannel(channel);
        ArgumentNullException.ThrowIfNull(message);
        var body = WireCodec.Encode(message, channel, null, _options.MaxMessageSize);
        return Publish(string.Empty, Names.QueueOf(channel), body, channel, isGroup: false, cancellationToken);
    }

    /// <inheritdoc />
    public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        Names.ValidateGroup(group);
        ArgumentNullException.ThrowIfNull(message);
        var body = WireCodec.Encode(message, null, group, _options.MaxMessageSize);
        return Publish(_options.GroupsExchange, group, body, group, isGroup: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ValidateOwnChannel(channel);
        if (_started) // the hot path: no closure
        {
            // Something buffered: taken here, no hop and no wait.
            _routes.Channels.TryGetValue(channel, out var live);
            if (live is not null && !cancellationToken.IsCancellationRequested && ChannelActor.TryTakeBuffered(live, out var buffered))
                return Task.FromResult(buffered);
            // Not registered on the layer's close (a registration per pending receive costs memory
            // and a lock): the router and the channel actors fail every receive they hold or get
            // once the layer closes, and one told after the close began is failed just below.
            var reply = new PendingReply<IReadOnlyDictionary<string, object?>>(cancellationToken, CancellationToken.None);
            if (reply.IsDone) return reply.Task;
            var router = _actors.Result.Router;
            if (cancellationToken.CanBeCanceled) RemoveWhenCancelled(router, _routes, channel, reply);
            // Nothing buffered and nobody waiting before it: parked where the next copy finds it, no hop.
            if (live is null || !ChannelActor.TryParkDirectly(live, reply))
                TellWaitForMessage(router, _routes, live, channel, reply, cancellable: false);
            if (_closed.IsCancellationRequested) reply.TryFail(new ChannelLayerClosedException());
            return reply.Task;
        }
        return ReceiveBeforeStartAsync(channel, cancellationToken);
    }

    // Apart from the hot path: a lambda capturing parameters costs a closure on every call of its method.
    private Task<IReadOnlyDictionary<string, object?>> ReceiveBeforeStartAsync(string channel, CancellationToken cancellationToken)
    {
        // Told once the actors have started, maybe after the close: registered on it.
        var early = new PendingReply<IReadOnlyDictionary<string, object?>>(cancellationToken, _closed.Token);
        var cancellable = cancellationToken.CanBeCanceled;
        return WithActors(early, actors =>
            TellWaitForMessage(actors.Router, _routes, _routes.Channels.GetValueOrDefault(channel), channel, early, cancellable));
    }

    // live: the channel's entry as the caller found it, if any.
    private static void TellWaitForMessage(IActorRef router, LayerRoutes routes, ChannelEntry? live, string channel,
        PendingReply<IReadOnlyDictionary<string, object?>> reply, bool cancellable)
    {
        if (cancellable) RemoveWhenCancelled(router, routes, channel, reply);
        // Straight to the channel's actor while it lives; the router starts one otherwise.
        if (live is { } entry && entry.TryCountSend())
            entry.Actor.Tell(new ChannelActor.WaitForMessage(reply));
        else
            router.Tell(new RouterActor.WaitForMessage(channel, reply));
    }

    // A waiter that gives up is removed at once, so an idle channel can stop.
    private static void RemoveWhenCancelled(IActorRef router, LayerRoutes routes, string channel,
        PendingReply<IReadOnlyDictionary<string, object?>> reply) =>
        reply.OnCancelled = r =>
        {
            if (routes.Channels.TryGetValue(channel, out var live) && live.TryCountSend())
                live.Actor.Tell(new ChannelActor.ReceiveCancelled(r));
            else
                router.Tell(new RouterActor.ReceiveCancelled(channel, r));
        };

    /// <inheritdoc />
    public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        Names.ValidateGroup(group);
        ValidateOwnChannel(channel);
        var reply = new PendingReply<Done>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Groups.Tell(new GroupMembershipActor.Add(group, channel, reply)));
    }

    /// <inheritdoc />
    public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        Names.ValidateGroup(group);
        Names.ValidateChannel(channel);
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
        ThrowIfClosed();
        var reply = new PendingReply<RabbitMQ.Client.IConnection>(cancellationToken, _closed.Token);
        return WithActors(reply, actors => actors.Connection.Tell(new ConnectionActor.GetConnection(reply)));
    }

    /// <summary>
    /// Completes once the layer is connected: its queue declared, every group binding replayed
    /// and its consumer started. Waits while it (re)connects. For readiness checks and tests.
    /// </summary>
    public Task WaitForConnectionAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
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
        var publish = new ConnectionActor.Publish(exchange, routingKey, body, destination, isGroup, reply) { Activity = activity, Trace = trace };
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

    private Task<T> WithActors<T>(PendingReply<T> reply, Action<ChannelLayerActor.LayerActors> send)
    {
        if (reply.IsDone) return reply.Task;
        if (_started)
        {
            send(_actors.Result);
            return reply.Task;
        }
        lock (_startLock)
        {
            if (!_started)
            {
                // The actors are still starting: keep calls in order until they are up.
                _waitingForStart.Enqueue(actors =>
                {
                    if (actors is null) reply.TryFail(new ChannelLayerClosedException());
                    else send(actors);
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

    private void ThrowIfClosed()
    {
        if (_closed.IsCancellationRequested) throw new ChannelLayerClosedException();
    }

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
