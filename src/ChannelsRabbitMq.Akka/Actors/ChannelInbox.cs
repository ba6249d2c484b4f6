using Akka.Actor;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// One live channel's data, and the only way to touch it: the copies nobody has taken yet (FIFO),
/// the receivers waiting for one (FIFO), the subscriber, the expiry clock, the duty to count a
/// copy out (and to ack its delivery when it is the last), and the channel's counters. Any
/// thread may call its operations — the consumer offering a delivery, a caller receiving, the
/// router dispatching a group message — and each takes one lock briefly, decides, and completes
/// or acks outside it, as <c>System.Threading.Channels.BoundedChannel</c> does.
/// </summary>
/// <remarks>
/// <para>
/// Its <see cref="ChannelActor"/> owns it: the actor creates it, runs its clock (expiry and the
/// idle check: <see cref="Check"/>), and is the only one to end it. An ended inbox refuses every
/// operation (they return <c>false</c>/<c>null</c>) and callers go through the router, which
/// starts a new channel actor; a closed one (the layer closes) fails them.
/// </para>
/// <para>
/// A waiting receiver is claimed in one atomic step (<see cref="ReceiveWaiter.TryClaim"/>): a
/// copy never goes to a receiver that was cancelled, timed out, or whose asker is gone — it goes
/// to the next one or stays buffered, in order. A subscriber is told under the lock, so pushes
/// keep the channel's order and none happens after <see cref="Unsubscribe"/> has returned.
/// </para>
/// <para>
/// Invariant: copies are buffered only while no receiver waits and nobody subscribes.
/// </para>
/// </remarks>
internal sealed class ChannelInbox
{
    private readonly Queue<Envelope> _buffer = new(); // also the lock
    private readonly ChannelActor.ChannelSettings _settings;
    private ReceiveWaiter? _firstWaiter;
    private ReceiveWaiter? _lastWaiter;
    private IActorRef? _subscriber;
    private volatile State _state; // written under the lock; read without it by IsEnded
    private bool _checkArmed;   // the owner will check by _checkDueMs
    private long _checkDueMs;
    private long _idleSinceMs;
    private bool _wentIdle;     // since the owner's last check
    private int _controlOnItsWay;
    private volatile int _count;

    private enum State : byte
    {
        Open,
        Ended,
        Closed,
    }

    public ChannelInbox(string channel, ChannelActor.ChannelSettings settings)
    {
        Channel = channel;
        _settings = settings;
        _idleSinceMs = Environment.TickCount64;
        _checkArmed = true; // the owner checks once when it starts
        _checkDueMs = _idleSinceMs;
    }

    public string Channel { get; }

    /// <summary>The channel actor that owns this inbox (set once, before anyone else sees the inbox).</summary>
    public IActorRef Owner { get; set; } = ActorRefs.Nobody;

    /// <summary>Copies buffered (for statistics).</summary>
    public int Count => _count;

    /// <summary>For specs and diagnostics: the buffered messages, oldest first.</summary>
    internal IReadOnlyList<IReadOnlyDictionary<string, object?>> Buffered
    {
        get { lock (_buffer) return _buffer.Select(copy => copy.Message).ToArray(); }
    }

    /// <summary>For specs: how many times the owner was asked for a check.</summary>
    internal int ChecksAsked { get; private set; }

    /// <summary>For specs and diagnostics: how many receivers wait here.</summary>
    internal int WaitingCount
    {
        get
        {
            lock (_buffer)
            {
                var count = 0;
                for (var waiter = _firstWaiter; waiter is not null; waiter = waiter.Next) count++;
                return count;
            }
        }
    }

    /// <summary>The owner has ended it: callers go through the router.</summary>
    public bool IsEnded => _state == State.Ended;

    /// <summary>
    /// Offers one copy of a delivery: pushed to the subscriber, handed to the first waiting
    /// receiver that can still take it, or buffered. False when the inbox has ended (offer it to
    /// the router's new one instead); the copy is then untouched.
    /// </summary>
    /// <remarks>
    /// <paramref name="handedOver"/>: the router's group dispatch collects the copies the inboxes
    /// handed over (pushed or claimed) and counts them out in one go (<see cref="CountOut"/>):
    /// one counter add, one ack check and one redelivery-log lock per delivery, not per member.
    /// </remarks>
    public bool TryOffer(Envelope copy, List<string>? handedOver = null)
    {
        ReceiveWaiter? claimed = null;
        bool arm = false, done = false, acked = true;
        lock (_buffer)
        {
            switch (_state)
            {
                case State.Ended:
                    return false;
                case State.Closed:
                    done = true; // the layer closes: nobody will take it, and its queue goes away
                    acked = false;
                    break;
                default:
                    if (Requeued(copy))
                    {
                        done = true;
                        acked = false;
                    }
                    else if (_subscriber is { } subscriber)
                    {
                        ChannelActor.TellSubscriber(copy, subscriber, Channel, Owner);
                        done = true;
                    }
                    else if (_buffer.Count == 0 && ClaimWaiter(copy) is { } waiter)
                    {
                        claimed = waiter;
                        done = true;
                        arm = BecameIdleIfSo();
                    }
                    else
                    {
                        _buffer.Enqueue(copy);
                        _count = _buffer.Count;
                        if (_buffer.Count == 1) arm = CheckBy(copy.ReceivedAtMs + _settings.LocalExpiryMs);
                    }
                    break;
            }
        }
        if (claimed is not null) _settings.Counters.ReceiveWaited(claimed.StartedAt);
        if (done)
        {
            // Traced already: a subscriber's copy when told, a receiver's before its claim.
            if (!acked) CopyLeaves(copy, ack: false);
            else if (handedOver is null) Received(copy, traced: false);
            else handedOver.Add(Channel);
        }
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
        return true;
    }

    /// <summary>
    /// Counts out, at once, the copies of <paramref name="delivery"/> that inboxes handed over to
    /// <paramref name="channels"/> during one dispatch (see <see cref="TryOffer"/>), acking the
    /// delivery if they were its last.
    /// </summary>
    public static void CountOut(Envelope delivery, List<string> channels, ChannelActor.ChannelSettings settings)
    {
        if (channels.Count == 0) return;
        settings.Counters.MessagesReceived(channels.Count);
        settings.Counters.BufferedFor(delivery.ReceivedAtMs, channels.Count);
        if (settings.RequeuedOnLoss) settings.HandedOver.Record(delivery.Session, delivery.Fingerprint, channels);
        if (!delivery.CopiesDone(channels.Count)) return;
        delivery.Session.Ack(delivery.DeliveryTag);
        settings.Counters.AdjustBacklog(-1);
    }

    /// <summary>
    /// A message handed to a receiver that was gone by the time it arrived (an <c>Ask</c> whose
    /// own timeout fired in that instant: Akka dead-letters the reply) comes back: to the first
    /// waiting receiver, or to the head of the buffer, where it was the oldest. Its delivery was
    /// acked when it was first received, so it has no ack duty now. False when the inbox has ended.
    /// </summary>
    public bool TryReturn(IReadOnlyDictionary<string, object?> message)
    {
        var copy = new Envelope(ReturnedSession.Instance, 0, message, copies: 1, Environment.TickCount64);
        bool pushed = false, claimed = false, arm;
        lock (_buffer)
        {
            if (_state == State.Ended) return false;
            if (_state == State.Closed) return true; // nobody will receive anything here any more
            _settings.Counters.AdjustBacklog(+1); // counted out again when it leaves
            if (_subscriber is { } subscriber)
            {
                ChannelActor.TellSubscriber(copy, subscriber, Channel, Owner);
                pushed = true;
                arm = false;
            }
            else if (_buffer.Count == 0 && ClaimWaiter(copy) is not null)
            {
                claimed = true;
                arm = BecameIdleIfSo();
            }
            else
            {
                var later = _buffer.ToArray();
                _buffer.Clear();
                _buffer.Enqueue(copy);
                foreach (var next in later) _buffer.Enqueue(next);
                _count = _buffer.Count;
                arm = CheckBy(copy.ReceivedAtMs + _settings.LocalExpiryMs);
            }
        }
        if (pushed || claimed) Received(copy, traced: false); // traced when told or before its claim
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
        return true;
    }

    /// <summary>
    /// A receive on this channel: the oldest buffered copy at once, or a receiver that waits
    /// here (cancellable with <paramref name="cancellationToken"/>; skipped once
    /// <paramref name="asker"/> has terminated). Null when the inbox has ended: go through the router.
    /// </summary>
    public Task<IReadOnlyDictionary<string, object?>>? Receive(CancellationToken cancellationToken, IActorRef? asker)
    {
        ReceiveWaiter? waiter = null;
        Envelope? taken;
        Exception? failure;
        List<Envelope>? expired = null;
        bool arm;
        lock (_buffer)
        {
            if (_state == State.Ended) return null;
            arm = ReceiveUnderLock(ref waiter, asker, ref expired, out taken, out failure);
        }
        Expired(expired);
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
        if (failure is not null) return Task.FromException<IReadOnlyDictionary<string, object?>>(failure);
        if (taken is not null)
        {
            Received(taken, traced: true);
            return Task.FromResult(taken.Message);
        }
        waiter!.CancelWith(cancellationToken);
        return waiter.Task;
    }

    /// <summary>
    /// A receiver that came through the router (its inbox had ended, or none lived): waits here
    /// like one from <see cref="Receive"/>. False when the inbox has ended.
    /// </summary>
    public bool TryWait(ReceiveWaiter waiter)
    {
        Envelope? taken;
        Exception? failure;
        List<Envelope>? expired = null;
        bool arm;
        lock (_buffer)
        {
            if (_state == State.Ended) return false;
            if (waiter.Task.IsCompleted) return true; // gave up on its way
            var w = waiter;
            arm = ReceiveUnderLock(ref w, waiter.Asker, ref expired, out taken, out failure);
        }
        Expired(expired);
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
        if (failure is not null) waiter.TryFail(failure);
        else if (taken is not null)
        {
            _settings.Counters.ReceiveWaited(waiter.StartedAt);
            Received(taken, traced: false); // traced before its claim
        }
        return true;
    }

    // waiter: null to create one if the receive must wait; else the one to hand the head to or link.
    private bool ReceiveUnderLock(ref ReceiveWaiter? waiter, IActorRef? asker, ref List<Envelope>? expired, out Envelope? taken,
        out Exception? failure)
    {
        taken = null;
        failure = null;
        if (_state == State.Closed)
        {
            failure = new ChannelLayerClosedException();
            return false;
        }
        if (_subscriber is { } subscriber)
        {
            failure = new InvalidOperationException($"Channel {Channel} has a subscriber ({subscriber.Path}); it cannot also be received from.");
            return false;
        }
        var now = Environment.TickCount64;
        DropStaleHead(now, ref expired);
        if (_buffer.Count > 0)
        {
            var head = _buffer.Peek();
            if (waiter is not null)
            {
                Tracing.Received(head.Trace, Channel); // ended before the receiver resumes
                if (!waiter.TryClaim(head.Message)) return false; // gave up a moment ago
            }
            taken = _buffer.Dequeue();
            _count = _buffer.Count;
            return BecameIdleIfSo(now);
        }
        waiter ??= new ReceiveWaiter(asker);
        Link(waiter);
        return false;
    }

    /// <summary>Called by a waiter that gave up (cancelled): it no longer waits here.</summary>
    internal void Remove(ReceiveWaiter waiter)
    {
        bool arm;
        lock (_buffer)
        {
            if (!Unlink(waiter)) return;
            arm = _state == State.Open && BecameIdleIfSo();
        }
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
    }

    /// <summary>
    /// Before the router tells the owner a control message (subscribe, unsubscribe): the inbox
    /// will not end while it is on its way. False when it has ended already.
    /// </summary>
    public bool TryExpectControl()
    {
        lock (_buffer)
        {
            if (_state == State.Ended) return false;
            _controlOnItsWay++;
            return true;
        }
    }

    /// <summary>
    /// Owner only: pushes every message to <paramref name="subscriber"/> from now on, buffered
    /// ones first. Null on success, else why not.
    /// </summary>
    public Exception? Subscribe(IActorRef subscriber)
    {
        var pushed = new List<Envelope>();
        List<Envelope>? expired = null;
        Exception? failure = null;
        lock (_buffer)
        {
            _controlOnItsWay--;
            if (_state == State.Closed) failure = new ChannelLayerClosedException();
            else if (_subscriber is not null && !_subscriber.Equals(subscriber))
                failure = new InvalidOperationException($"Channel {Channel} already has a subscriber ({_subscriber.Path}).");
            else if (_subscriber is null)
            {
                _subscriber = subscriber;
                DropStaleHead(Environment.TickCount64, ref expired);
                while (_buffer.TryDequeue(out var copy))
                {
                    if (Requeued(copy))
                    {
                        CopyLeaves(copy, ack: false);
                        continue;
                    }
                    ChannelActor.TellSubscriber(copy, subscriber, Channel, Owner);
                    pushed.Add(copy);
                }
                _count = 0;
                // Receivers waiting here could never be served: a subscribed channel is not received from.
                while (_firstWaiter is { } waiter)
                {
                    Unlink(waiter);
                    waiter.TryFail(new InvalidOperationException($"Channel {Channel} got a subscriber ({subscriber.Path}); it cannot also be received from."));
                }
            }
        }
        Expired(expired);
        foreach (var copy in pushed) Received(copy, traced: false); // traced when told
        return failure;
    }

    /// <summary>
    /// Owner only: ends the subscription of <paramref name="subscriber"/> (if it is the one); no
    /// copy is pushed to it once this has returned.
    /// </summary>
    public void Unsubscribe(IActorRef subscriber, bool expected)
    {
        bool arm;
        lock (_buffer)
        {
            if (expected) _controlOnItsWay--;
            if (_subscriber is null || !_subscriber.Equals(subscriber)) return;
            _subscriber = null;
            arm = _state == State.Open && BecameIdleIfSo();
        }
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
    }

    /// <summary>
    /// The connection that delivered some buffered copies is gone and the broker requeued what
    /// it had not seen acked: those copies must not be handed over (they come back).
    /// </summary>
    public void DiscardFrom(IAmqpSession session)
    {
        List<Envelope>? discarded = null;
        bool arm = false;
        lock (_buffer)
        {
            var kept = _buffer.Count;
            if (kept == 0) return;
            for (var i = 0; i < kept; i++)
            {
                var copy = _buffer.Dequeue();
                if (copy.Session == session) (discarded ??= []).Add(copy);
                else _buffer.Enqueue(copy);
            }
            _count = _buffer.Count;
            if (discarded is not null && _state == State.Open) arm = BecameIdleIfSo();
        }
        if (discarded is not null)
            foreach (var copy in discarded) CopyLeaves(copy, ack: false);
        if (arm) Owner.Tell(ChannelActor.CheckNow.Instance);
    }

    /// <summary>
    /// Owner only, on its clock: drops expired copies (acking them) and waiters that gave up,
    /// then says when to check next — the oldest copy's expiry, or the end of the idle period —
    /// or ends the inbox (<paramref name="ended"/>) when it has been idle that long with nothing
    /// on its way to the owner. Null: nothing to check until an operation asks again.
    /// </summary>
    public long? Check(out bool ended)
    {
        List<Envelope>? expired = null;
        var due = CheckUnderLock(Environment.TickCount64, ref expired, out ended);
        Expired(expired);
        return due;
    }

    private long? CheckUnderLock(long now, ref List<Envelope>? expired, out bool ended)
    {
        ended = false;
        lock (_buffer)
        {
            _checkDueMs = long.MaxValue;
            _checkArmed = false;
            var wentIdle = _wentIdle;
            _wentIdle = false;
            if (_state != State.Open) return null;
            DropStaleHead(now, ref expired);
            long due;
            if (_buffer.Count > 0)
            {
                due = _buffer.Peek().ReceivedAtMs + _settings.LocalExpiryMs;
            }
            else
            {
                PruneWaiters();
                if (_firstWaiter is not null || _subscriber is not null)
                {
                    // Busy and quiet since the last check: the operation that leaves it idle asks
                    // for the next one. Busy but idle now and then (a receiver that keeps up: idle
                    // between taking a copy and waiting again): look again an idle period from
                    // now, instead of being asked at every idle moment (an actor message per copy).
                    if (!wentIdle) return null;
                    due = now + _settings.IdleAfterMs;
                    _checkArmed = true;
                    _checkDueMs = due;
                    return due;
                }
                // A subscription on its way to the owner: it checks again once it has handled it.
                if (_controlOnItsWay > 0) return null;
                due = _idleSinceMs + _settings.IdleAfterMs;
                if (due <= now)
                {
                    _state = State.Ended;
                    ended = true;
                    return null;
                }
            }
            due = Math.Max(due, now + 1);
            _checkArmed = true;
            _checkDueMs = due;
            return due;
        }
    }

    /// <summary>
    /// The layer closes: every waiting receiver fails with <see cref="ChannelLayerClosedException"/>,
    /// and so does every later receive. Buffered copies are dropped unacked (the queue goes away).
    /// </summary>
    public void Close()
    {
        List<ReceiveWaiter> waiters = [];
        Envelope[] dropped;
        lock (_buffer)
        {
            if (_state != State.Open) return; // an ended inbox holds nothing
            _state = State.Closed;
            // Unlinked here, under the lock: a cancellation racing with the close unlinks too.
            while (_firstWaiter is { } waiter)
            {
                Unlink(waiter);
                waiters.Add(waiter);
            }
            dropped = _buffer.ToArray();
            _buffer.Clear();
            _count = 0;
            _subscriber = null;
        }
        foreach (var waiter in waiters) waiter.TryFail(new ChannelLayerClosedException());
        foreach (var copy in dropped) CopyLeaves(copy, ack: false);
    }

    // --- under the lock ---

    // Hands message to the first waiter that can still take it; waiters that gave up are dropped.
    // Traced before the claim: the receive activity must have ended when the receiver resumes.
    private ReceiveWaiter? ClaimWaiter(Envelope copy)
    {
        if (_firstWaiter is null) return null;
        Tracing.Received(copy.Trace, Channel);
        while (_firstWaiter is { } waiter)
        {
            Unlink(waiter);
            if (waiter.TryClaim(copy.Message)) return waiter;
        }
        return null;
    }

    private void PruneWaiters()
    {
        for (var waiter = _firstWaiter; waiter is not null;)
        {
            var next = waiter.Next;
            waiter.GiveUpIfAskerIsGone();
            if (waiter.Task.IsCompleted) Unlink(waiter);
            waiter = next;
        }
    }

    // Expired copies and copies of a lost session leave from the head (both are oldest first).
    // Expired copies are acked by the caller once the lock is released (see Leave).
    private void DropStaleHead(long now, ref List<Envelope>? expired)
    {
        if (_buffer.Count == 0) return;
        var cutoff = now - _settings.LocalExpiryMs;
        while (_buffer.TryPeek(out var head))
        {
            if (Requeued(head)) CopyLeaves(head, ack: false); // no ack: nothing runs outside the lock
            else if (head.ReceivedAtMs <= cutoff) (expired ??= []).Add(head);
            else break;
            _buffer.Dequeue();
        }
        _count = _buffer.Count;
    }

    // Outside the lock: counts out and acks the copies that expired.
    private void Expired(List<Envelope>? expired)
    {
        if (expired is null) return;
        var counters = _settings.Counters;
        foreach (var copy in expired)
        {
            counters.ExpiredLocally();
            CopyLeaves(copy, ack: true);
        }
        if (counters.ExpiryWarningDue(RouterActor.WarningInterval)) Owner.Tell(ChannelActor.ExpiredWarning.Instance);
    }

    private bool BecameIdleIfSo() => BecameIdleIfSo(Environment.TickCount64);

    // After an operation: if nothing is buffered, nobody waits and nobody subscribes, the idle
    // period starts now; returns true if the owner must be told to check (once until it has).
    private bool BecameIdleIfSo(long now)
    {
        if (_buffer.Count > 0 || _firstWaiter is not null || _subscriber is not null) return false;
        _idleSinceMs = now;
        _wentIdle = true;
        return CheckBy(now + _settings.IdleAfterMs);
    }

    // True when the owner must be told to check: nothing is scheduled by dueMs. Asked once
    // until the owner's check has run.
    private bool CheckBy(long dueMs)
    {
        if (_checkArmed && _checkDueMs <= dueMs) return false;
        _checkArmed = true;
        _checkDueMs = dueMs;
        ChecksAsked++;
        return true;
    }

    // A waiter that gave up (a cancellation that ran before AttachTo) is not linked.
    private void Link(ReceiveWaiter waiter)
    {
        waiter.AttachTo(this);
        if (waiter.Task.IsCompleted) return;
        waiter.Linked = true;
        waiter.Previous = _lastWaiter;
        waiter.Next = null;
        if (_lastWaiter is null) _firstWaiter = waiter;
        else _lastWaiter.Next = waiter;
        _lastWaiter = waiter;
    }

    private bool Unlink(ReceiveWaiter waiter)
    {
        if (!waiter.Linked) return false;
        if (waiter.Previous is null) _firstWaiter = waiter.Next;
        else waiter.Previous.Next = waiter.Next;
        if (waiter.Next is null) _lastWaiter = waiter.Previous;
        else waiter.Next.Previous = waiter.Previous;
        waiter.Next = waiter.Previous = null;
        waiter.Linked = false;
        return true;
    }

    // --- counting copies out: no lock needed (the envelope's counter is atomic) ---

    // A copy of a lost session: the broker requeued the delivery, so it must not be handed over.
    private bool Requeued(Envelope copy) => _settings.RequeuedOnLoss && !copy.Session.IsOpen;

    // A copy reached a receiver or a subscriber.
    private void Received(Envelope copy, bool traced)
    {
        var settings = _settings;
        settings.Counters.MessageReceived();
        settings.Counters.BufferedFor(copy.ReceivedAtMs);
        if (traced) Tracing.Received(copy.Trace, Channel);
        if (settings.RequeuedOnLoss) settings.HandedOver.Record(copy.Session, copy.Fingerprint, Channel);
        CopyLeaves(copy, ack: true);
    }

    // The copy leaves this channel; the last copy of a delivery acks it (unless its session's
    // deliveries were requeued). Acks never run under the lock: a transport may deliver, and so
    // reach this lock, under a lock its ack takes.
    private void CopyLeaves(Envelope copy, bool ack)
    {
        // Unreceived and unacked: when its session was lost, the redelivery is owed to this channel.
        if (!ack && _settings.RequeuedOnLoss) _settings.HandedOver.Discarded(copy.Session, copy.Fingerprint, Channel);
        if (!copy.CopyDone()) return;
        if (ack) copy.Session.Ack(copy.DeliveryTag);
        _settings.Counters.AdjustBacklog(-1);
    }
}

/// <summary>
/// The "session" of a message that came back from a receiver that was gone: always open, and
/// nothing to ack (the delivery was acked when the message was first received).
/// </summary>
internal sealed class ReturnedSession : AckOnlySession
{
    public static ReturnedSession Instance { get; } = new();

    private ReturnedSession() { }

    public override void Ack(ulong deliveryTag) { }
}

/// <summary>A session that only acks (a copy's origin, for copies that have no connection behind them, and for specs).</summary>
internal abstract class AckOnlySession : IAmqpSession
{
    public RabbitMQ.Client.IConnection? Connection => null;
    public virtual bool IsOpen => true;
    public abstract void Ack(ulong deliveryTag);
    public Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken) => throw new NotSupportedException();
    public Task CloseAsync() => Task.CompletedTask;
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// A receiver waiting in a <see cref="ChannelInbox"/>: a task the inbox completes with a message
/// only by claiming it in one atomic step, so a receiver that gave up (cancelled, or its asker
/// gone) never takes one. Continuations run on the thread pool, never under the inbox's lock.
/// </summary>
internal sealed class ReceiveWaiter : TaskCompletionSource<IReadOnlyDictionary<string, object?>>
{
    private ChannelInbox? _inbox;
    private CancellationTokenRegistration _registration;

    public ReceiveWaiter(IActorRef? asker) : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Asker = asker;
        StartedAt = ChannelLayerTelemetry.OperationDuration.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
    }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the receive, for the duration histogram (0 when nobody listens).</summary>
    public long StartedAt { get; }

    /// <summary>The actor that asked (the actor protocol's <c>Receive</c>), whose end is an abandonment.</summary>
    public IActorRef? Asker { get; }

    // The inbox's intrusive FIFO (touched under its lock only).
    internal ReceiveWaiter? Next;
    internal ReceiveWaiter? Previous;
    internal bool Linked;

    /// <summary>
    /// The asker has stopped: an actor that terminated, or the temporary actor of an <c>Ask</c>
    /// that completed (timed out) — Akka removes it from <c>/temp</c> then, and it never reports
    /// itself terminated, nor can it be watched.
    /// </summary>
    public bool AskerIsGone => Asker is IInternalActorRef asker && IsGone(asker);

#pragma warning disable CS0618 // IsTerminated: a watch needs an actor and a message per receive; the flag is what we need
    private static bool IsGone(IInternalActorRef asker) =>
        asker.IsTerminated
        || asker.Path is { Parent.Name: "temp" } path && !asker.Equals(asker.Provider.TempContainer.GetChild([path.Name]));
#pragma warning restore CS0618

    /// <summary>Registers the caller's cancellation; a receive cancelled already gives up at once.</summary>
    public void CancelWith(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled) return;
        _registration = cancellationToken.UnsafeRegister(static (state, token) => ((ReceiveWaiter)state!).Cancel(token), this);
        if (Task.IsCompleted) _registration.Unregister();
    }

    /// <summary>Under the inbox's lock: takes <paramref name="message"/> unless this receiver gave up.</summary>
    public bool TryClaim(IReadOnlyDictionary<string, object?> message)
    {
        if (AskerIsGone)
        {
            GiveUpIfAskerIsGone();
            return false;
        }
        if (!TrySetResult(message)) return false;
        _registration.Unregister();
        return true;
    }

    public void TryFail(Exception exception)
    {
        if (TrySetException(exception)) _registration.Unregister();
    }

    /// <summary>Under the inbox's lock, from its check: an asker that is gone gives up its receive.</summary>
    internal void GiveUpIfAskerIsGone()
    {
        if (AskerIsGone && TrySetCanceled()) _registration.Unregister();
    }

    // Before it is linked; the fence pairs with Cancel's: either Cancel sees the inbox, or the
    // inbox sees the cancellation (and does not link a receiver that gave up).
    internal void AttachTo(ChannelInbox inbox) => Interlocked.Exchange(ref _inbox, inbox);

    private void Cancel(CancellationToken token)
    {
        if (!TrySetCanceled(token)) return;
        Volatile.Read(ref _inbox)?.Remove(this);
    }
}
