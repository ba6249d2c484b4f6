using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;

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

    public LayerRoutes(int localCapacity)
    {
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

    /// <summary>Copies enqueued through the actor (router only).</summary>
    public long Dispatched;

    /// <summary>Copies received, expired or discarded by the actor (atomically).</summary>
    public long Consumed;

    public int Buffered => (int)(Dispatched - Interlocked.Read(ref Consumed));

    /// <summary>Counts one message about to be told to the actor; false when the actor has been stopped.</summary>
    public bool TryCountSend() => Interlocked.Increment(ref _sent) > 0;

    /// <summary>
    /// The router stops an idle actor only if it has handled every message told to it; from then
    /// on <see cref="TryCountSend"/> fails and callers go through the router, which starts a new one.
    /// </summary>
    public bool TryMarkStopped(long handled) => Interlocked.CompareExchange(ref _sent, StoppedMark, handled) == handled;

    /// <summary>The actor stops for another reason (its router stopped).</summary>
    public void MarkStopped() => Interlocked.Exchange(ref _sent, StoppedMark);

    /// <summary>
    /// The actor reports, after each counted message, how many it has handled and whether it
    /// pushes every message at once to a subscriber (subscribed, nothing buffered).
    /// </summary>
    public void Report(long handled, IActorRef? pushesTo)
    {
        Volatile.Write(ref _subscriber, pushesTo);
        Volatile.Write(ref _handled, handled);
    }

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
        if (Volatile.Read(ref _parked) is null || Volatile.Read(ref _handled) != Volatile.Read(ref _sent)) return null;
        return TakeParked();
    }

    /// <summary>
    /// The subscriber the router may push to directly: only when the actor has handled every
    /// message told to it (so nothing it holds or is about to push could be overtaken).
    /// </summary>
    public IActorRef? DirectPushTarget()
    {
        var handled = Volatile.Read(ref _handled);
        if (handled != Volatile.Read(ref _sent)) return null;
        return Volatile.Read(ref _subscriber);
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
