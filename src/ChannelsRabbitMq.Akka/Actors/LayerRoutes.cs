using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// What the facade, the consumer and the actors of one layer share, each part published by its
/// owner: the live channels' inboxes (the router adds and removes them; anyone may read the map
/// and call an inbox's operations), the open session a caller may publish on (the connection
/// actor opens and closes that route), and the count of deliveries waiting in the router (so the
/// consumer never overtakes one of them). It decides nothing itself.
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
    private ConcurrentDictionary<string, ChannelInbox> _inboxes = new(StringComparer.Ordinal);

    public LayerRoutes(int localCapacity, LayerCounters counters)
    {
        _localCapacity = localCapacity;
        Counters = counters;
        // Acks beyond the prefetch window have been processed by the broker (it sent more since),
        // so remembering a little more than the window is enough; a group delivery counts once per
        // local copy.
        HandedOver = new HandedOverLog(Math.Max(4 * localCapacity, 1024));
    }

    private LayerCounters Counters { get; }

    /// <summary>The inboxes of the live channels: the router adds and removes them, anyone may read them.</summary>
    public ConcurrentDictionary<string, ChannelInbox> Inboxes => Volatile.Read(ref _inboxes);

    /// <summary>
    /// Router only: replaces the map with a copy sized for what is left, so channels that came
    /// and went cost nothing (a map never shrinks). A caller still reading the old map finds the
    /// same inboxes, or none and goes through the router.
    /// </summary>
    public ConcurrentDictionary<string, ChannelInbox> ShrinkInboxes()
    {
        var smaller = new ConcurrentDictionary<string, ChannelInbox>(_inboxes, StringComparer.Ordinal);
        Volatile.Write(ref _inboxes, smaller);
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

    /// <summary>
    /// The consumer's delivery of a message to one channel, into its live inbox on the consumer's
    /// thread: only a first delivery (a redelivery may be a duplicate only the router can
    /// recognise), and only when no delivery told to the router is still waiting there (only the
    /// consumer tells it deliveries, so none is overtaken). False: tell the router (after
    /// <see cref="InboundQueued"/>), which starts a channel actor if none lives.
    /// </summary>
    public bool TryDeliverDirectly(IAmqpSession session, ulong deliveryTag, DecodedMessage decoded, bool redelivered,
        ulong fingerprint, TraceHeaders trace, IActorRef router)
    {
        if (redelivered || decoded.Channel is not { } channel || _inboundClosed || Volatile.Read(ref _inboundViaRouter) != 0) return false;
        if (!Inboxes.TryGetValue(channel, out var inbox)) return false;
        var envelope = new Envelope(session, deliveryTag, decoded.Message, 1, Environment.TickCount64)
        {
            Fingerprint = fingerprint,
            Trace = trace,
        };
        var counters = Counters;
        counters.AdjustBacklog(+1);
        if (!inbox.TryOffer(envelope))
        {
            counters.AdjustBacklog(-1); // its actor ended it a moment ago: the router starts a new one
            return false;
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
}

/// <summary>
/// A ring of the latest copies handed over to a receiver, and of those discarded because their
/// session was lost (session, body fingerprint, channel). After a lost connection the broker
/// requeues what it had not seen acked — at most the prefetch window, all among the latest
/// deliveries: a redelivery whose copy was discarded is owed to its channel; one handed over
/// there was already received. Per channel, not per delivery: a group delivery stays unacked until
/// its last local copy is received, so its redelivery must still reach the members whose copy was
/// discarded. Counted, not just matched: two sends of one body are two messages, and one of them
/// received must not hide the other. Written by channel inboxes, read by the router when a session is lost.
/// </summary>
internal sealed class HandedOverLog
{
    private readonly (IAmqpSession? Session, ulong Fingerprint, string? Channel, bool Discarded)[] _ring;
    private int _next;

    public HandedOverLog(int capacity)
    {
        _ring = new (IAmqpSession?, ulong, string?, bool)[capacity];
    }

    /// <summary>A copy of a delivery of <paramref name="session"/> reached a receiver on <paramref name="channel"/>.</summary>
    public void Record(IAmqpSession session, ulong fingerprint, string channel) => Add(session, fingerprint, channel, discarded: false);

    /// <summary>A copy of a delivery of <paramref name="session"/> left <paramref name="channel"/> unreceived and unacked: its redelivery is owed there.</summary>
    public void Discarded(IAmqpSession session, ulong fingerprint, string channel) => Add(session, fingerprint, channel, discarded: true);

    /// <summary>Copies of one delivery of <paramref name="session"/> reached receivers on each of <paramref name="channels"/>.</summary>
    public void Record(IAmqpSession session, ulong fingerprint, List<string> channels)
    {
        lock (_ring)
        {
            foreach (var channel in channels)
            {
                _ring[_next] = (session, fingerprint, channel, false);
                _next = (_next + 1) % _ring.Length;
            }
        }
    }

    private void Add(IAmqpSession session, ulong fingerprint, string channel, bool discarded)
    {
        lock (_ring)
        {
            _ring[_next] = (session, fingerprint, channel, discarded);
            _next = (_next + 1) % _ring.Length;
        }
    }

    /// <summary>
    /// Counts the copies recorded for <paramref name="session"/> into <paramref name="received"/>
    /// and <paramref name="owed"/> (by fingerprint and channel) and forgets the rest.
    /// </summary>
    public void TakeFrom(IAmqpSession session, Dictionary<(ulong Fingerprint, string Channel), int> received,
        Dictionary<(ulong Fingerprint, string Channel), int> owed)
    {
        lock (_ring)
        {
            for (var i = 0; i < _ring.Length; i++)
            {
                if (_ring[i].Session == session)
                {
                    var key = (_ring[i].Fingerprint, _ring[i].Channel!);
                    var counts = _ring[i].Discarded ? owed : received;
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                }
                _ring[i] = default;
            }
            _next = 0;
        }
    }
}
