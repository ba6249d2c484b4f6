using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// What the facade and the actors of one layer share so that the hot paths skip hops that carry
/// no decision: a receive goes straight to its channel's actor when that actor lives, a publish
/// goes straight to the open session when nothing is queued in the connection actor, and the
/// router pushes a message straight to a channel's subscriber when the channel actor has nothing
/// of its own to do. Each shortcut falls back to the actor path whenever its condition does not
/// hold, and the actors still own every decision: which channel actors live, which session is
/// open, who subscribes.
/// </summary>
internal sealed class LayerRoutes
{
    private IAmqpSession? _publishSession;
    private ILoggingAdapter? _publishLog;

    /// <summary>Publishes told to the connection actor and not yet handed to a session by it.</summary>
    private int _publishesViaActor;

    /// <summary>Deliveries told to the router and not yet dispatched by it.</summary>
    private int _inboundViaRouter;

    private volatile bool _inboundClosed;
    private readonly int _localCapacity;

    public LayerRoutes(int localCapacity)
    {
        _localCapacity = localCapacity;
        // Acks beyond the prefetch window have been processed by the broker (it sent more since),
        // so remembering a little more than the window is enough.
        HandedOver = new HandedOverLog(Math.Max(2 * localCapacity, 256));
    }

    private ConcurrentDictionary<string, ChannelEntry> _channels = new(StringComparer.Ordinal);

    /// <summary>The live channel actors: the router adds and removes entries, anyone may read them.</summary>
    public ConcurrentDictionary<string, ChannelEntry> Channels => Volatile.Read(ref _channels);

    /// <summary>
    /// Router only: replaces the map with a copy sized for what is left, so channels that came
    /// and went cost nothing (a map never shrinks). A caller still reading the old map finds the
    /// same entries, or none and goes through the router.
    /// </summary>
    public ConcurrentDictionary<string, ChannelEntry> ShrinkChannels()
    {
        var smaller = new ConcurrentDictionary<string, ChannelEntry>(_channels, StringComparer.Ordinal);
        Volatile.Write(ref _channels, smaller);
        return smaller;
    }

    /// <summary>Deliveries handed over lately, to recognise their redelivery after a lost connection.</summary>
    public HandedOverLog HandedOver { get; }

    /// <summary>
    /// Channels whose actor has something to check that it did not hear of: whether it is idle
    /// (a copy handed to its parked receiver, or its last copy taken by a caller), or the expiry
    /// tick of a buffer the router or the consumer started. The router tells each a
    /// <see cref="ChannelActor.CheckIdle"/> on its statistics tick (once a second): an idle
    /// channel still stops and buffered copies still expire, at no cost per message.
    /// </summary>
    public ConcurrentQueue<ChannelEntry> IdleChecks { get; } = new();

    /// <summary>
    /// The session a caller may publish on directly: open, and nothing queued in the connection
    /// actor that the caller could overtake (a caller's earlier publish still queued there must
    /// reach the wire first).
    /// </summary>
    public bool TryGetPublishSession(out IAmqpSession session, out ILoggingAdapter log)
    {
        session = Volatile.Read(ref _publishSession)!;
        log = _publishLog!;
        return session is not null && Volatile.Read(ref _publishesViaActor) == 0 && session.IsOpen;
    }

    /// <summary>Called by a caller before it tells a publish to the connection actor.</summary>
    public void PublishQueued() => Interlocked.Increment(ref _publishesViaActor);

    /// <summary>Called by the connection actor once it has handed a queued publish to a session (or failed it).</summary>
    public void QueuedPublishHandled() => Interlocked.Decrement(ref _publishesViaActor);

    /// <summary>The connection actor opens the shortcut once its session is up and its stash drained.</summary>
    public void OpenPublishShortcut(IAmqpSession session, ILoggingAdapter log)
    {
        _publishLog = log;
        Volatile.Write(ref _publishSession, session);
    }

    /// <summary>Closes the shortcut if it still leads to <paramref name="session"/>.</summary>
    public void ClosePublishShortcut(IAmqpSession session) => Interlocked.CompareExchange(ref _publishSession, null, session);

    /// <summary>
    /// The consumer's shortcut for a message to one channel: dispatched on the consumer's thread,
    /// as the router would, when the channel's actor lives, the delivery is a first one (a
    /// redelivery may be a duplicate only the router can recognise) and nothing told to the
    /// router is still waiting there (only the consumer tells it deliveries, so no earlier one
    /// can be overtaken). False: tell the router (after <see cref="InboundQueued"/>).
    /// </summary>
    public bool TryDispatchDirect(IAmqpSession session, ulong deliveryTag, DecodedMessage decoded, bool redelivered,
        ulong fingerprint, TraceHeaders trace, IActorRef router)
    {
        if (redelivered || decoded.Channel is not { } channel || _inboundClosed || Volatile.Read(ref _inboundViaRouter) != 0) return false;
        if (!Channels.TryGetValue(channel, out var entry) || entry is null || entry.IsStopped) return false;
        var settings = entry.Settings;
        var envelope = new Envelope(session, deliveryTag, decoded.Message, 1, Environment.TickCount64)
        {
            Fingerprint = fingerprint,
            Trace = trace,
        };
        if (ChannelActor.Requeued(envelope, settings)) return false; // its session is already gone: the router drops it
        var counters = settings.Counters;
        counters.AdjustBacklog(+1);
        ChannelActor.Enqueue? enqueue = null;
        switch (OfferCopy(entry, envelope, requeued: false, ref enqueue, alwaysTell: false))
        {
            case CopyOutcome.NotTold: // the router stopped the actor a moment ago: it starts a new one
                counters.AdjustBacklog(-1);
                return false;
            case CopyOutcome.Pushed:
                ChannelActor.PushedCopiesDone(envelope, 1, requeued: false, settings);
                break;
        }
        if (counters.LocalBacklog >= _localCapacity && counters.BackPressureWarningDue(RouterActor.WarningInterval))
            router.Tell(RouterActor.WarnBackPressure.Instance);
        return true;
    }

    /// <summary>Called by the consumer before it tells a delivery to the router.</summary>
    public void InboundQueued() => Interlocked.Increment(ref _inboundViaRouter);

    /// <summary>Called by the router once it has dispatched a delivery told to it.</summary>
    public void InboundDispatched() => Interlocked.Decrement(ref _inboundViaRouter);

    /// <summary>The router closes: deliveries go to it (which drops them) from now on.</summary>
    public void CloseInbound() => _inboundClosed = true;

    /// <summary>
    /// Offers one copy of a delivery to one channel, skipping its actor wherever that gives the
    /// same result as the actor would: pushed to its subscriber, or handed to its parked receiver,
    /// or buffered, when the actor has handled every message told to it; told to the actor
    /// otherwise. Called by the router or, for a message to one channel, by the consumer — never
    /// both at once (see <see cref="TryDispatchDirect"/>), so they share
    /// <see cref="ChannelEntry.Dispatched"/>. <paramref name="alwaysTell"/>: the router's, whose
    /// live entries cannot be stopped under it.
    /// </summary>
    public CopyOutcome OfferCopy(ChannelEntry entry, Envelope envelope, bool requeued, ref ChannelActor.Enqueue? enqueue, bool alwaysTell)
    {
        if (entry.DirectPushTarget() is { } subscriber)
        {
            // The caller counts the pushed copies (ChannelActor.PushedCopiesDone), once per delivery.
            if (!requeued) ChannelActor.TellSubscriber(envelope, subscriber, entry.Channel, entry.Actor);
            return CopyOutcome.Pushed;
        }
        if (!requeued)
        {
            if (entry.TakeDirectReceiver() is { } receiver)
            {
                entry.Dispatched++;
                if (ChannelActor.TryHandOverDirectly(envelope, receiver, entry, entry.Settings))
                {
                    entry.RequestIdleCheck();
                    return CopyOutcome.HandedOver;
                }
                entry.Dispatched--; // that receiver gave up: the actor hands the copy to the next
            }
            if (ChannelActor.TryBufferDirectly(entry, envelope)) return CopyOutcome.Buffered;
        }
        if (!entry.TryCountSend() && !alwaysTell) return CopyOutcome.NotTold;
        entry.Actor.Tell(enqueue ??= new ChannelActor.Enqueue(envelope));
        entry.Dispatched++;
        return CopyOutcome.Told;
    }
}

/// <summary>Where <see cref="LayerRoutes.OfferCopy"/> put a copy.</summary>
internal enum CopyOutcome
{
    Pushed,
    HandedOver,
    Buffered,
    Told,
    NotTold,
}

/// <summary>
/// The shared view of one channel actor. The router creates it with the actor and is the only
/// one to stop the actor; the facade may tell the actor directly, counting its message first.
/// </summary>
internal sealed class ChannelEntry
{
    private const long StoppedMark = long.MinValue;

    // Messages told to the actor that it counts as handled; StoppedMark once the router stops it.
    private long _sent;
    private long _handled;
    private IActorRef? _subscriber;
    private PendingReply<IReadOnlyDictionary<string, object?>>? _parked;

    public ChannelEntry(string channel, ChannelActor.ChannelSettings settings)
    {
        Channel = channel;
        Settings = settings;
    }

    public string Channel { get; }

    /// <summary>The layer's channel settings.</summary>
    public ChannelActor.ChannelSettings Settings { get; }

    /// <summary>The channel's FIFO of copies no receiver has taken yet: the actor's, locked by whoever touches it.</summary>
    public Queue<Envelope> Buffer { get; } = new();

    public IActorRef Actor { get; set; } = ActorRefs.Nobody;

    /// <summary>Copies dispatched to the channel (by the router, or by the consumer when the router has none queued).</summary>
    public long Dispatched;

    /// <summary>Copies received, expired or discarded by the actor (atomically).</summary>
    public long Consumed;

    public int Buffered => (int)(Dispatched - Interlocked.Read(ref Consumed));

    /// <summary>Counts one message about to be told to the actor; false when the actor has been stopped.</summary>
    public bool TryCountSend() => Interlocked.Increment(ref _sent) > 0;

    /// <summary>The router has stopped the actor (or is stopping it).</summary>
    public bool IsStopped => Volatile.Read(ref _sent) < 0;

    /// <summary>True when every message counted for the actor has been handled by it.</summary>
    public bool AllHandled => Volatile.Read(ref _handled) == Volatile.Read(ref _sent);

    // 1 while the entry waits in the router's idle-check queue.
    private int _idleCheckDue;

    /// <summary>Queues the entry for the router's next check (see <see cref="LayerRoutes.IdleChecks"/>), once.</summary>
    public void RequestIdleCheck()
    {
        if (Volatile.Read(ref _idleCheckDue) == 0 && Interlocked.Exchange(ref _idleCheckDue, 1) == 0) Settings.IdleChecks.Enqueue(this);
    }

    /// <summary>The router takes the entry off its idle-check queue.</summary>
    public void IdleCheckTaken() => Volatile.Write(ref _idleCheckDue, 0);

    /// <summary>
    /// The router stops an idle actor only if it has handled every message told to it; from then
    /// on <see cref="TryCountSend"/> fails and callers go through the router, which starts a new one.
    /// </summary>
    public bool TryMarkStopped(long handled) => Interlocked.CompareExchange(ref _sent, StoppedMark, handled) == handled;

    /// <summary>
    /// <see cref="TryMarkStopped"/> for an actor that reported itself idle, under the buffer's
    /// lock where a caller parks a receiver itself (<see cref="ChannelActor.TryParkDirectly"/>)
    /// and the consumer starts a buffer (<see cref="ChannelActor.TryBufferDirectly"/>): a receiver
    /// parked or a copy buffered since the actor found itself idle keeps it alive.
    /// </summary>
    public bool TryStopIdle(long handled)
    {
        lock (Buffer) return Parked is null && Buffer.Count == 0 && TryMarkStopped(handled);
    }

    /// <summary>The actor stops for another reason (its router stopped).</summary>
    public void MarkStopped() => Interlocked.Exchange(ref _sent, StoppedMark);

    /// <summary>
    /// The actor reports, after each message it handled (under its buffer's lock): how many
    /// counted ones it has handled, its subscriber (pushed to at once while nothing is buffered),
    /// and whether receivers queue in it behind the parked one.
    /// </summary>
    public void Report(long handled, IActorRef? subscriber, bool bufferEmpty, bool receiversQueued)
    {
        Volatile.Write(ref _subscriber, subscriber);
        _pushesDirectly = bufferEmpty;
        _receiversQueued = receiversQueued;
        Volatile.Write(ref _handled, handled);
    }

    private volatile bool _pushesDirectly = true;
    private volatile bool _receiversQueued;

    /// <summary>
    /// Under the buffer's lock: a receiver may be parked here by its caller, with no hop, where
    /// the actor would park it itself (nothing buffered, no receiver before it, no subscriber,
    /// every message told to the actor handled, and the actor not stopped).
    /// </summary>
    public bool MayParkDirectly =>
        Buffer.Count == 0 && Volatile.Read(ref _parked) is null && !_receiversQueued && Volatile.Read(ref _subscriber) is null
        && AllHandled && !IsStopped;

    /// <summary>
    /// Under the buffer's lock: a copy may be buffered here without the actor, where the actor
    /// would buffer it itself (every message told to it handled, not stopped): behind buffered
    /// copies (no receiver waits and no subscriber pushes while copies are buffered), or in an
    /// empty buffer where a receiver could park (<see cref="MayParkDirectly"/>).
    /// </summary>
    public bool MayBufferDirectly => Buffer.Count == 0 ? MayParkDirectly : AllHandled && !IsStopped;

    /// <summary>The oldest waiting receiver, parked here by the actor when it had no other.</summary>
    public PendingReply<IReadOnlyDictionary<string, object?>>? Parked => Volatile.Read(ref _parked);

    /// <summary>Actor only, with no receiver queued and none parked.</summary>
    public void Park(PendingReply<IReadOnlyDictionary<string, object?>> receiver) => Volatile.Write(ref _parked, receiver);

    /// <summary>Takes the parked receiver (the actor or the router: exactly one of them gets it).</summary>
    public PendingReply<IReadOnlyDictionary<string, object?>>? TakeParked() => Interlocked.Exchange(ref _parked, null);

    /// <summary>Removes <paramref name="receiver"/> if it is the parked one.</summary>
    public bool UnparkIf(PendingReply<IReadOnlyDictionary<string, object?>> receiver) =>
        Interlocked.CompareExchange(ref _parked, null, receiver) == receiver;

    /// <summary>
    /// The parked receiver, for the router to hand a copy to directly: only when the actor has
    /// handled every message told to it, so no earlier copy is on its way to that receiver. (The
    /// actor parks a receiver only with nothing buffered.)
    /// </summary>
    public PendingReply<IReadOnlyDictionary<string, object?>>? TakeDirectReceiver()
    {
        if (Volatile.Read(ref _parked) is null || !AllHandled) return null;
        return TakeParked();
    }

    /// <summary>
    /// The subscriber the router may push to directly: only when the actor has handled every
    /// message told to it (so nothing it holds or is about to push could be overtaken).
    /// </summary>
    public IActorRef? DirectPushTarget()
    {
        return AllHandled && _pushesDirectly ? Volatile.Read(ref _subscriber) : null;
    }
}

/// <summary>
/// A ring of the latest deliveries handed over to a receiver (session and body fingerprint).
/// After a lost connection the broker requeues what it had not seen acked — at most the prefetch
/// window, all among the latest deliveries — and a redelivery found here was already received.
/// Written by channel actors (and the router), read by the router when a session is lost.
/// </summary>
internal sealed class HandedOverLog
{
    private readonly (IAmqpSession? Session, ulong Fingerprint)[] _ring;
    private int _next;

    public HandedOverLog(int capacity)
    {
        _ring = new (IAmqpSession?, ulong)[capacity];
    }

    public void Record(IAmqpSession session, ulong fingerprint)
    {
        lock (_ring)
        {
            _ring[_next] = (session, fingerprint);
            _next = (_next + 1) % _ring.Length;
        }
    }

    /// <summary>Moves the fingerprints recorded for <paramref name="session"/> into <paramref name="into"/> and forgets the rest.</summary>
    public void TakeFrom(IAmqpSession session, HashSet<ulong> into)
    {
        lock (_ring)
        {
            for (var i = 0; i < _ring.Length; i++)
            {
                if (_ring[i].Session == session) into.Add(_ring[i].Fingerprint);
                _ring[i] = default;
            }
            _next = 0;
        }
    }
}
