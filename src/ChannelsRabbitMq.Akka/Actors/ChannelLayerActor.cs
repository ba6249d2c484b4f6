using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The root of one layer: supervises the connection, the router and the group membership, and
/// runs the close sequence (fail waiting receivers, close the connection, stop).
/// </summary>
internal sealed class ChannelLayerActor : UntypedActor, IWithTimers
{
    /// <summary>How long a channel with nothing buffered and no receiver lives on.</summary>
    internal static readonly TimeSpan ChannelIdleAfter = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(4);  // within CoordinatedShutdown's default 5 s phase

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RabbitMqChannelLayer _layer;
    private readonly RabbitMqChannelLayerOptions _options;
    private readonly string _queueName;
    private readonly IAmqpTransport _transport;
    private readonly LayerCounters _counters;
    private readonly LayerRoutes _routes;
    private readonly TaskCompletionSource<LayerActors> _started;
    private readonly List<TaskCompletionSource<Done>> _closeWaiters = [];
    private IActorRef _router = ActorRefs.Nobody;
    private IActorRef _connection = ActorRefs.Nobody;
    private IActorRef _groups = ActorRefs.Nobody;
    private bool _closing;
    private bool _connectionClosed;
    private bool _routerClosed;

    public ChannelLayerActor(RabbitMqChannelLayer layer, RabbitMqChannelLayerOptions options, string queueName, IAmqpTransport transport,
        LayerCounters counters, LayerRoutes routes, TaskCompletionSource<LayerActors> started)
    {
        _routes = routes;
        _layer = layer;
        _counters = counters;
        _options = options;
        _queueName = queueName;
        _transport = transport;
        _started = started;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RabbitMqChannelLayer layer, RabbitMqChannelLayerOptions options, string queueName, IAmqpTransport transport,
        LayerCounters counters, LayerRoutes routes, TaskCompletionSource<LayerActors> started) =>
        global::Akka.Actor.Props.Create(() => new ChannelLayerActor(layer, options, queueName, transport, counters, routes, started));

    /// <summary>The actors the facade talks to directly.</summary>
    public sealed record LayerActors(IActorRef Root, IActorRef Connection, IActorRef Router, IActorRef Groups);

    /// <summary>Close the layer; <paramref name="Completion"/> completes once everything has stopped.</summary>
    public sealed record Close(TaskCompletionSource<Done> Completion);

    private sealed class CloseTimedOut
    {
        public static CloseTimedOut Instance { get; } = new();
        private CloseTimedOut() { }
    }

    /// <summary>
    /// The connection actor is restarted on failure: a lost connection is the normal way it asks
    /// to reconnect, and what it holds (stashed publishes, the session) is rebuilt by the restart.
    /// The router and the group-membership actor hold what cannot be rebuilt — the live channels
    /// with their buffered copies and waiting receivers, the group members and the bindings to
    /// replay — so a failure of either one fails the whole layer, loudly, instead of letting it
    /// half-work with that state gone.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new LayerSupervision(this);

    private sealed class LayerSupervision(ChannelLayerActor root) : OneForOneStrategy(-1, -1, _ => Directive.Restart, loggingEnabled: false)
    {
        public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause, ChildRestartStats stats,
            IReadOnlyCollection<ChildRestartStats> children)
        {
            if (child.Equals(root._connection))
            {
                // Logged already when it is a lost connection; anything else is a bug worth an error line.
                if (cause is not ConnectionLostException) root._log.Error(cause, "The connection actor failed; restarting it");
                base.ProcessFailure(context, restart, child, cause, stats, children);
                return;
            }
            context.Stop(child);
            context.Self.Tell(new ChildFailed(child.Path.Name, cause));
        }
    }

    private sealed record ChildFailed(string Name, Exception Cause);

    protected override void PreStart()
    {
        var queueMode = _options.EffectiveQueueMode;
        _log.Info("Channel layer queue {0} in QueueMode {1} ({2})", _queueName, queueMode,
            _options.QueueMode != QueueMode.Auto ? "set in the options"
            : queueMode == QueueMode.Durable ? "Auto: one host" : "Auto: several hosts");
        var channels = new ChannelActor.ChannelSettings(_options.EffectiveLocalExpiry, ChannelIdleAfter,
            RequeuedOnLoss: queueMode == QueueMode.Durable, _counters, _routes.HandedOver);
        _router = Context.ActorOf(RouterActor.Props(_counters, _options.LocalCapacity, channels, _routes), "router");
        _connection = Context.ActorOf(ConnectionActor.Props(_options, _queueName, _transport, _router, _counters, _routes), "connection");
        _groups = Context.ActorOf(GroupMembershipActor.Props(_router, _connection), "groups");
        Context.Watch(_router);
        // A reply to Receive that its asker no longer takes comes back to its channel.
        Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));
        _started.TrySetResult(new LayerActors(Self, _connection, _router, _groups));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case var request when ProtocolHandler.TryAnswer(request, _layer, Sender):
                break;
            case GroupMembershipActor.GetGroups or GroupMembershipActor.ReplayDone:
                _groups.Forward(message);
                break;
            case ChildFailed failed:
                _counters.LayerFailed($"the {failed.Name} actor failed: {failed.Cause.GetType().Name}: {failed.Cause.Message}");
                _ = _layer.FailAsync(failed.Cause); // every call fails from here on
                _log.Error(failed.Cause, "The layer's {0} actor failed; its state cannot be rebuilt, so the layer failed and closes. " +
                                         "Every call now fails with ChannelLayerClosedException.", failed.Name);
                break;
            case DeadLetter { Message: ChannelLayerProtocol.Received received }
                when Names.IsProcessSpecific(received.Channel) && Names.QueueOf(received.Channel) == _queueName
                     && UnreceivedReplies.TryTake(received):
                _log.Warning("A message for channel {0} reached its asker after the asker had given up (an Ask that timed out); " +
                             "it goes back to the channel. Give ChannelLayerProtocol.Receive a Timeout shorter than the Ask's.", received.Channel);
                _router.Tell(new RouterActor.ReturnUnreceived(received.Channel, received.Message));
                break;
            case DeadLetter:
                break;
            case Close close:
                _closeWaiters.Add(close.Completion);
                if (_closing) break;
                _closing = true;
                _router.Tell(RouterActor.Close.Instance);
                _connection.Tell(ConnectionActor.Shutdown.Instance);
                Timers.StartSingleTimer(CloseTimedOut.Instance, CloseTimedOut.Instance, CloseTimeout);
                break;
            case ConnectionActor.ShutdownComplete:
                _connectionClosed = true;
                if (_routerClosed) Context.Stop(Self);
                break;
            case RouterActor.Closed:
                // Stopping only once the router has failed its receivers avoids dead letters.
                _routerClosed = true;
                if (_connectionClosed) Context.Stop(Self);
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_router):
                // Stopped after a failure: its inboxes are closed (PostStop), nothing waits on it.
                _routerClosed = true;
                if (_connectionClosed) Context.Stop(Self);
                break;
            case CloseTimedOut:
                _log.Warning("The connection did not close within {0}; stopping anyway", CloseTimeout);
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self, typeof(DeadLetter));
        _started.TrySetException(new ChannelLayerClosedException());
        foreach (var waiter in _closeWaiters) waiter.TrySetResult(Done.Instance);
    }
}
