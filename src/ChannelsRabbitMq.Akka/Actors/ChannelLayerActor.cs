using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;

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
    private readonly IActorChannelLayer _layer;
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

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, -1, cause =>
        {
            // A lost connection is the normal way the connection actor asks to be restarted,
            // and it has logged it already. Anything else is a bug worth an error line.
            if (cause is not ConnectionLostException)
                _log.Error(cause, "A channel-layer actor failed; restarting it");
            return Directive.Restart;
        }, loggingEnabled: false);

    protected override void PreStart()
    {
        var queueMode = _options.EffectiveQueueMode;
        _log.Info("Channel layer queue {0} in QueueMode {1} ({2})", _queueName, queueMode,
            _options.QueueMode != QueueMode.Auto ? "set in the options"
            : queueMode == QueueMode.Durable ? "Auto: one host" : "Auto: several hosts");
        var channels = new ChannelActor.ChannelSettings(_options.EffectiveLocalExpiry, ChannelIdleAfter,
            RequeuedOnLoss: queueMode == QueueMode.Durable, _counters, _routes.HandedOver, _routes.IdleChecks);
        _router = Context.ActorOf(RouterActor.Props(_counters, _options.LocalCapacity, channels, _routes), "router");
        _connection = Context.ActorOf(ConnectionActor.Props(_options, _queueName, _transport, _router, _counters, _routes), "connection");
        _groups = Context.ActorOf(GroupMembershipActor.Props(_router, _connection), "groups");
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
        _started.TrySetException(new ChannelLayerClosedException());
        foreach (var waiter in _closeWaiters) waiter.TrySetResult(Done.Instance);
    }
}
