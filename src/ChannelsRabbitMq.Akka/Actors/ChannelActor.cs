using Akka.Actor;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// One live channel of this layer: a FIFO buffer of received messages and a FIFO of waiting
/// receivers. A message goes to the first receiver that still wants it; a receiver cancelled a
/// moment ago leaves the message queued for the next. Messages older than the local expiry are
/// dropped (and reported, so the delivery is acked). When the channel has been empty with no
/// receiver for a while, it asks the router to stop it: an idle channel costs nothing.
/// </summary>
internal sealed class ChannelActor : UntypedActor
{
    private readonly string _channel;
    private readonly ChannelSettings _settings;
    private readonly ChannelEntry _tally;
    private readonly LayerCounters _counters;
    private readonly Queue<Envelope> _buffer; // shared with callers through the entry: locked
    private readonly LinkedList<PendingReply<IReadOnlyDictionary<string, object?>>> _receivers = new();
    private IActorRef? _subscriber;
    private bool _closed;

    // Scheduled on demand (not IWithTimers, whose scheduler every one of maybe 100,000 channel
    // actors would carry): the idle check is never cancelled, a stale expiry tick is harmless.
    private ICancelable? _idleTimer;
    private ICancelable? _expiryTimer;

    // Counted messages handled (told by the router or the facade): the router stops this actor
    // only if none was told since, and pushes directly only if it has handled them all.
    private long _handled;
    private long _handledAtIdleCheck = -1;

    public ChannelActor(ChannelEntry tally, ChannelSettings settings)
    {
        _tally = tally;
        _buffer = tally.Buffer;
        _settings = settings;
        _counters = settings.Counters;
        _channel = tally.Channel;
    }

    public static Props Props(ChannelEntry tally, ChannelSettings settings) =>
        global::Akka.Actor.Props.Create(() => new ChannelActor(tally, settings)).WithMailbox(ChannelMailbox.Id);

    /// <summary>What every channel actor of a layer shares.</summary>
    public sealed record ChannelSettings(TimeSpan LocalExpiry, TimeSpan IdleAfter, bool RequeuedOnLoss, LayerCounters Counters,
        HandedOverLog HandedOver, System.Collections.Concurrent.ConcurrentQueue<ChannelEntry> IdleChecks)
    {
        /// <summary><see cref="LocalExpiry"/> in whole milliseconds (at least 1), as copies are stamped.</summary>
        public long LocalExpiryMs { get; } = Math.Max(1, (long)LocalExpiry.TotalMilliseconds);
    }

    /// <summary>A message for this channel (a copy of an envelope).</summary>
    public sealed record Enqueue(Envelope Envelope);

    /// <summary>A caller waiting for the next message.</summary>
    public sealed record WaitForMessage(PendingReply<IReadOnlyDictionary<string, object?>> Reply);

    /// <summary>A waiting caller gave up.</summary>
    public sealed record ReceiveCancelled(PendingReply<IReadOnlyDictionary<string, object?>> Reply);

    /// <summary>Push every message to <paramref name="Subscriber"/> from now on.</summary>
    public sealed record Subscribe(IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>End the subscription of <paramref name="Subscriber"/>.</summary>
    public sealed record Unsubscribe(IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>Drop every buffered copy delivered by <paramref name="Session"/>: the broker requeued them.</summary>
    public sealed record DiscardFrom(IAmqpSession Session);

    /// <summary>The layer closes: fail every waiting receiver.</summary>
    public sealed class Close
    {
        public static Close Instance { get; } = new();
        private Close() { }
    }

    /// <summary>From the router after it handed copies to this channel's receiver directly: re-check idleness.</summary>
    public sealed class CheckIdle
    {
        public static CheckIdle Instance { get; } = new();
        private CheckIdle() { }
    }

    /// <summary>Reply to <see cref="Close"/>: every receiver held or queued before it has failed.</summary>
    public sealed class ClosedDown
    {
        public static ClosedDown Instance { get; } = new();
        private ClosedDown() { }
    }

    private sealed class ExpiryTick
    {
        public static ExpiryTick Instance { get; } = new();
        private ExpiryTick() { }
    }

    private sealed class IdleTick
    {
        public static IdleTick Instance { get; } = new();
        private IdleTick() { }
    }

    // Acks of deliveries whose last copy left while the buffer's lock was held: sent once it is
    // released, since a transport may deliver (and so reach this lock) under a lock its ack takes.
    private readonly List<Envelope> _acksDue = [];

    // Callers may take the head of the buffer themselves (TryTakeBuffered), and the router or the
    // consumer add to it or park in it (TryBufferDirectly, TryParkDirectly): every access is locked.
    protected override void OnReceive(object message)
    {
        lock (_buffer) Handle(message);
        if (_acksDue.Count == 0) return;
        foreach (var envelope in _acksDue) envelope.Session.Ack(envelope.DeliveryTag);
        _acksDue.Clear();
    }

    private void Handle(object message)
    {
        switch (message)
        {
            case Enqueue enqueue:
                _handled++;
                ExpireOld();
                if (Requeued(enqueue.Envelope))
                {
                    Discarded(enqueue.Envelope);
                }
                else if (_subscriber is not null)
                {
                    Push(enqueue.Envelope);
                }
                else if (_buffer.Count > 0 || !TryHandOver(enqueue.Envelope))
                {
                    _buffer.Enqueue(enqueue.Envelope);
                    ScheduleExpiry();
                }
                break;
            case WaitForMessage receive:
                _handled++;
                ExpireOld();
                if (receive.Reply.IsDone) break;
                if (_closed)
                {
                    receive.Reply.TryFail(new ChannelLayerClosedException());
                    break;
                }
                if (_subscriber is not null)
                {
                    receive.Reply.TryFail(new InvalidOperationException(
                        $"Channel {_channel} has a subscriber ({_subscriber.Path}); it cannot also be received from."));
                    break;
                }
                DiscardRequeuedHead();
                if (_buffer.Count > 0)
                {
                    if (receive.Reply.TrySucceed(_buffer.Peek().Message))
                        Delivered(_buffer.Dequeue(), expired: false);
                }
                else
                {
                    AddReceiver(receive.Reply);
                }
                break;
            case ReceiveCancelled cancelled:
                _handled++;
                if (!_tally.UnparkIf(cancelled.Reply)) _receivers.Remove(cancelled.Reply);
                break;
            case Subscribe subscribe:
                _handled++;
                if (_subscriber is not null && !_subscriber.Equals(subscribe.Subscriber))
                {
                    subscribe.Reply.TryFail(new InvalidOperationException(
                        $"Channel {_channel} already has a subscriber ({_subscriber.Path})."));
                    break;
                }
                if (_subscriber is null)
                {
                    _subscriber = subscribe.Subscriber;
                    Context.Watch(_subscriber);
                    ExpireOld();
                    while (DiscardRequeuedHead() && _buffer.Count > 0) Push(_buffer.Dequeue());
                    ScheduleExpiry();
                }
                subscribe.Reply.TrySucceed(Done.Instance);
                break;
            case Unsubscribe unsubscribe:
                _handled++;
                if (_subscriber is not null && _subscriber.Equals(unsubscribe.Subscriber))
                {
                    Context.Unwatch(_subscriber);
                    _subscriber = null;
                }
                unsubscribe.Reply.TrySucceed(Done.Instance);
                break;
            case Terminated terminated:
                if (_subscriber is not null && _subscriber.Equals(terminated.ActorRef)) _subscriber = null;
                break;
            case DiscardFrom discard:
                DiscardWhere(envelope => envelope.Session == discard.Session);
                ScheduleExpiry();
                break;
            case CheckIdle:
                // Also for a buffer the router or the consumer started: its expiry tick is due.
                ScheduleExpiry();
                break;
            case ExpiryTick:
                _expiryTimer = null;
                ExpireOld();
                ScheduleExpiry();
                break;
            case IdleTick:
                _idleTimer = null;
                if (IsIdle && _handled == _handledAtIdleCheck)
                    Context.Parent.Tell(new RouterActor.ChannelIdle(_channel, _handled));
                else if (IsIdle)
                    StartIdleTimer();
                return;
            case Close:
                _closed = true;
                FailReceivers();
                Sender.Tell(ClosedDown.Instance);
                return;
            default:
                Unhandled(message);
                return;
        }

        // Subscribed with nothing buffered: the router may push to the subscriber itself.
        _tally.Report(_handled, _subscriber, _buffer.Count == 0, _receivers.Count > 0);
        if (_idleTimer is null && IsIdle) StartIdleTimer();
    }

    private bool IsIdle
    {
        get
        {
            if (_buffer.Count > 0 || _subscriber is not null) return false;
            // Receivers cancelled without telling us yet do not keep the channel alive.
            if (_tally.Parked is { } parked)
            {
                if (!parked.IsDone) return false;
                _tally.UnparkIf(parked);
            }
            while (_receivers.First is { } first && first.Value.IsDone) _receivers.RemoveFirst();
            return _receivers.Count == 0;
        }
    }

    private void StartIdleTimer()
    {
        _handledAtIdleCheck = _handled;
        _idleTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(_settings.IdleAfter, Self, IdleTick.Instance, Self);
    }

    // The first waiting receiver is parked in the shared entry, where the router may complete
    // it directly (see ChannelEntry.TakeDirectReceiver); later ones queue here behind it.
    private void AddReceiver(PendingReply<IReadOnlyDictionary<string, object?>> reply)
    {
        if (_receivers.Count == 0 && _tally.Parked is null) _tally.Park(reply);
        else _receivers.AddLast(reply);
    }

    private bool TryHandOver(Envelope envelope)
    {
        while (NextReceiver() is { } receiver)
        {
            if (receiver.TrySucceed(envelope.Message))
            {
                Delivered(envelope, expired: false);
                return true;
            }
        }
        return false;
    }

    private PendingReply<IReadOnlyDictionary<string, object?>>? NextReceiver()
    {
        if (_tally.TakeParked() is { } parked) return parked;
        if (_receivers.First is not { } first) return null;
        _receivers.RemoveFirst();
        return first.Value;
    }

    /// <summary>
    /// A caller's receive served on its own thread from the head of the buffer, with no actor hop:
    /// only a copy that is neither expired nor from a lost session (those the actor handles).
    /// Buffered copies exist only while no receiver waits, so the FIFO holds.
    /// </summary>
    internal static bool TryTakeBuffered(ChannelEntry tally, out IReadOnlyDictionary<string, object?> message)
    {
        message = null!;
        var settings = tally.Settings;
        var buffer = tally.Buffer;
        if (Volatile.Read(ref tally.Dispatched) == Interlocked.Read(ref tally.Consumed)) return false;
        Envelope head;
        bool drained;
        lock (buffer)
        {
            if (buffer.Count == 0) return false;
            head = buffer.Peek();
            if (Requeued(head, settings) || head.ReceivedAtMs <= Environment.TickCount64 - settings.LocalExpiryMs)
                return false;
            buffer.Dequeue();
            drained = buffer.Count == 0;
        }
        message = head.Message;
        Tracing.Received(head.Trace, tally.Channel);
        CopyReceived(head, tally, settings);
        // Its buffer is empty now: the actor checks on the router's next tick whether it is idle (a
        // message now would cost a hop per drained buffer; its pending expiry tick is harmless).
        if (drained) tally.RequestIdleCheck();
        return true;
    }

    /// <summary>
    /// A caller's receive parked in the shared entry by the caller itself, with no hop, where the
    /// actor would have parked it (see <see cref="ChannelEntry.MayParkDirectly"/>): the router or
    /// the consumer hands it the next copy, or the actor does when told one. False: tell the actor.
    /// </summary>
    internal static bool TryParkDirectly(ChannelEntry tally, PendingReply<IReadOnlyDictionary<string, object?>> receiver)
    {
        lock (tally.Buffer)
        {
            if (!tally.MayParkDirectly) return false;
            tally.Park(receiver);
        }
        return true;
    }

    /// <summary>
    /// A copy buffered by the router (or the consumer) without waking the actor, when the actor
    /// has handled every message told to it and would buffer it too: behind copies already
    /// buffered (no receiver waits and no subscriber pushes while copies are buffered), or in an
    /// empty buffer where no receiver waits and nobody subscribes. A buffer started this way has
    /// no expiry tick yet: the channel is queued for the router's next check, on which the actor
    /// schedules it. False: tell the actor.
    /// </summary>
    internal static bool TryBufferDirectly(ChannelEntry tally, Envelope envelope)
    {
        if (!tally.AllHandled) return false;
        var buffer = tally.Buffer;
        bool started;
        lock (buffer)
        {
            // Checked under the lock the actor holds while it handles a message.
            if (!tally.MayBufferDirectly) return false;
            started = buffer.Count == 0;
            buffer.Enqueue(envelope);
            tally.Dispatched++;
        }
        if (started) tally.RequestIdleCheck();
        return true;
    }

    /// <summary>
    /// A copy handed by the router straight to the channel's parked receiver (the actor had
    /// nothing buffered and nothing on its way); false if that receiver gave up meanwhile.
    /// </summary>
    internal static bool TryHandOverDirectly(Envelope envelope, PendingReply<IReadOnlyDictionary<string, object?>> receiver,
        ChannelEntry tally, ChannelSettings settings)
    {
        if (!receiver.TrySucceed(envelope.Message)) return false;
        Tracing.Received(envelope.Trace, tally.Channel);
        CopyReceived(envelope, tally, settings);
        return true;
    }

    private void Push(Envelope envelope)
    {
        TellSubscriber(envelope, _subscriber!, _channel, Self);
        CopyReceived(envelope, _tally, _settings, _acksDue);
    }

    /// <summary>
    /// Pushes a copy to the channel's subscriber, the sender being the channel actor (also when
    /// the router or the consumer pushes); the caller counts the copy.
    /// </summary>
    internal static void TellSubscriber(Envelope envelope, IActorRef subscriber, string channel, IActorRef channelActor)
    {
        var trace = Tracing.Received(envelope.Trace, channel);
        subscriber.Tell(new ChannelLayerProtocol.Received(channel, envelope.Message) { TraceContext = trace }, channelActor);
    }

    /// <summary>
    /// Counts the copies of one delivery the router pushed (or, for a lost session, dropped) in
    /// one go, acking it if they were the last. (Per channel they would be counted in and out
    /// of its buffer at once, so the channel's tally is left alone.)
    /// </summary>
    internal static void PushedCopiesDone(Envelope envelope, int copies, bool requeued, ChannelSettings settings)
    {
        if (!requeued)
        {
            settings.Counters.MessagesReceived(copies);
            if (settings.RequeuedOnLoss && envelope.FirstHandOver()) settings.HandedOver.Record(envelope.Session, envelope.Fingerprint);
        }
        if (!envelope.CopiesDone(copies)) return;
        if (!requeued) envelope.Session.Ack(envelope.DeliveryTag);
        settings.Counters.AdjustBacklog(-1);
    }

    /// <summary>A copy in a buffer of a lost session: the broker requeued the delivery, so it must not be handed over.</summary>
    internal static bool Requeued(Envelope envelope, ChannelSettings settings) => settings.RequeuedOnLoss && !envelope.Session.IsOpen;

    private void Delivered(Envelope envelope, bool expired)
    {
        if (expired)
        {
            _counters.ExpiredLocally();
            if (_counters.ExpiryWarningDue(RouterActor.WarningInterval)) Context.Parent.Tell(RouterActor.WarnExpired.Instance);
            CopyLeaves(envelope, _tally, _counters, ack: true, _acksDue);
            return;
        }
        Tracing.Received(envelope.Trace, _channel);
        CopyReceived(envelope, _tally, _settings, _acksDue);
    }

    // acksDue: where the actor collects acks while it holds the buffer's lock; null acks at once.
    private static void CopyReceived(Envelope envelope, ChannelEntry tally, ChannelSettings settings, List<Envelope>? acksDue = null)
    {
        settings.Counters.MessageReceived();
        if (settings.RequeuedOnLoss && envelope.FirstHandOver()) settings.HandedOver.Record(envelope.Session, envelope.Fingerprint);
        CopyLeaves(envelope, tally, settings.Counters, ack: true, acksDue);
    }

    // A copy of a lost session: the broker requeued the delivery, so it is not acked.
    private void Discarded(Envelope envelope) => CopyLeaves(envelope, _tally, _counters, ack: false, null);

    // The copy leaves this channel; the last copy of a delivery acks it.
    private static void CopyLeaves(Envelope envelope, ChannelEntry tally, LayerCounters counters, bool ack, List<Envelope>? acksDue)
    {
        Interlocked.Increment(ref tally.Consumed);
        if (!envelope.CopyDone()) return;
        if (ack && acksDue is not null) acksDue.Add(envelope);
        else if (ack) envelope.Session.Ack(envelope.DeliveryTag);
        counters.AdjustBacklog(-1);
    }

    private void DiscardWhere(Func<Envelope, bool> lost)
    {
        if (_buffer.Count == 0) return;
        var kept = _buffer.Count;
        for (var i = 0; i < kept; i++)
        {
            var envelope = _buffer.Dequeue();
            if (lost(envelope)) Discarded(envelope);
            else _buffer.Enqueue(envelope);
        }
    }

    // A copy whose session is gone has been requeued by the broker: handing it over now would
    // deliver it twice. (With an exclusive queue nothing is requeued: the copy is the only one.)
    private bool Requeued(Envelope envelope) => Requeued(envelope, _settings);

    // Copies of a lost session precede those of the next one in the FIFO, so checking from the
    // head is enough. Returns true (for use in loops).
    private bool DiscardRequeuedHead()
    {
        while (_buffer.Count > 0 && Requeued(_buffer.Peek()))
            Discarded(_buffer.Dequeue());
        return true;
    }

    private void ExpireOld()
    {
        if (_buffer.Count == 0) return;
        var cutoff = Environment.TickCount64 - _settings.LocalExpiryMs;
        while (_buffer.Count > 0 && _buffer.Peek().ReceivedAtMs <= cutoff)
            Delivered(_buffer.Dequeue(), expired: true);
    }

    private void ScheduleExpiry()
    {
        if (_buffer.Count == 0)
        {
            _expiryTimer?.Cancel();
            _expiryTimer = null;
            return;
        }
        if (_expiryTimer is not null) return;
        var dueIn = _buffer.Peek().ReceivedAtMs + _settings.LocalExpiryMs - Environment.TickCount64;
        _expiryTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMilliseconds(Math.Max(1, dueIn)), Self,
            ExpiryTick.Instance, Self);
    }

    protected override void PostStop()
    {
        // Stopped by the router only when idle, or because the layer closed.
        _idleTimer?.Cancel();
        _expiryTimer?.Cancel();
        FailReceivers();
    }

    private void FailReceivers()
    {
        _tally.TakeParked()?.TryFail(new ChannelLayerClosedException());
        foreach (var receiver in _receivers) receiver.TryFail(new ChannelLayerClosedException());
        _receivers.Clear();
    }
}
