using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The owner of one live channel's <see cref="ChannelInbox"/>: it creates the inbox, runs its
/// clock (local expiry and the idle check), watches its subscriber, and is the only one to end
/// it — after the channel has been empty, with nobody waiting or subscribed, for
/// <see cref="ChannelSettings.IdleAfter"/> — then tells the router and stops. Every copy,
/// receive and cancellation goes straight into the inbox (its operations are thread-safe): this
/// actor hears only of what needs a decision or a timer.
/// </summary>
internal sealed class ChannelActor : UntypedActor
{
    private readonly ChannelInbox _inbox;

    // Scheduled on demand (not IWithTimers, whose scheduler every one of maybe 100,000 channel
    // actors would carry).
    private ICancelable? _check;

    public ChannelActor(ChannelInbox inbox)
    {
        _inbox = inbox;
    }

    /// <summary>Starts a channel actor as a child of <paramref name="context"/> (the router) and returns its inbox.</summary>
    public static ChannelInbox Start(IActorContext context, string channel, ChannelSettings settings)
    {
        var inbox = new ChannelInbox(channel, settings);
        // Set before anyone else sees the inbox (the router publishes it after this returns).
        inbox.Owner = context.ActorOf(Props.Create(() => new ChannelActor(inbox)).WithMailbox(ChannelMailbox.Id));
        return inbox;
    }

    /// <summary>What every channel of a layer shares.</summary>
    public sealed record ChannelSettings(TimeSpan LocalExpiry, TimeSpan IdleAfter, bool RequeuedOnLoss, LayerCounters Counters,
        HandedOverLog HandedOver)
    {
        /// <summary><see cref="LocalExpiry"/> in whole milliseconds (at least 1), as copies are stamped.</summary>
        public long LocalExpiryMs { get; } = Math.Max(1, (long)LocalExpiry.TotalMilliseconds);

        /// <summary><see cref="IdleAfter"/> in whole milliseconds.</summary>
        public long IdleAfterMs { get; } = Math.Max(1, (long)IdleAfter.TotalMilliseconds);
    }

    /// <summary>Push every message to <paramref name="Subscriber"/> from now on (counted by <see cref="ChannelInbox.TryExpectControl"/>).</summary>
    public sealed record Subscribe(IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>End the subscription of <paramref name="Subscriber"/> (counted by <see cref="ChannelInbox.TryExpectControl"/>).</summary>
    public sealed record Unsubscribe(IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>From the inbox: its clock needs (re)setting — a first copy buffered, or the channel became idle.</summary>
    public sealed class CheckNow
    {
        public static CheckNow Instance { get; } = new();
        private CheckNow() { }
    }

    /// <summary>From the inbox: copies expired locally and a (throttled) warning is due.</summary>
    public sealed class ExpiredWarning
    {
        public static ExpiredWarning Instance { get; } = new();
        private ExpiredWarning() { }
    }

    protected override void PreStart() => Check();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CheckNow:
                Check();
                break;
            case Subscribe subscribe:
                if (_inbox.Subscribe(subscribe.Subscriber) is { } failure)
                {
                    subscribe.Reply.TryFail(failure);
                    Check(); // its idle check waited for this
                    break;
                }
                Context.Watch(subscribe.Subscriber);
                subscribe.Reply.TrySucceed(Done.Instance);
                break;
            case Unsubscribe unsubscribe:
                _inbox.Unsubscribe(unsubscribe.Subscriber, expected: true);
                Context.Unwatch(unsubscribe.Subscriber);
                unsubscribe.Reply.TrySucceed(Done.Instance);
                Check(); // its idle check waited for this
                break;
            case Terminated terminated:
                _inbox.Unsubscribe(terminated.ActorRef, expected: false);
                break;
            case ExpiredWarning:
                Context.Parent.Tell(RouterActor.WarnExpired.Instance);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Check()
    {
        _check?.Cancel();
        _check = null;
        var due = _inbox.Check(out var ended);
        if (ended)
        {
            Context.Parent.Tell(new RouterActor.ChannelEnded(_inbox));
            Context.Stop(Self);
            return;
        }
        if (due is { } dueMs)
            _check = Context.System.Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMilliseconds(Math.Max(1, dueMs - Environment.TickCount64)),
                Self, CheckNow.Instance, Self);
    }

    /// <summary>Pushes a copy to a subscriber; the sender is the channel's actor (<paramref name="owner"/>).</summary>
    internal static void TellSubscriber(Envelope copy, IActorRef subscriber, string channel, IActorRef owner)
    {
        var trace = Tracing.Received(copy.Trace, channel);
        subscriber.Tell(new ChannelLayerProtocol.Received(channel, copy.Message) { TraceContext = trace }, owner);
    }

    protected override void PostStop()
    {
        _check?.Cancel();
        // Stopped with the router (the layer closes, or failed): nobody may wait here any more.
        _inbox.Close();
    }
}
