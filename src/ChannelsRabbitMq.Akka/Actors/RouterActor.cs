using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Dispatches each delivery to the <see cref="ChannelActor"/> of its channel, or, for a group
/// message, to every local member of the group (members as known when it arrives: a channel
/// that left the group a moment ago may still get a message routed before it left). It counts
/// the copies of each delivery and acks it once all have been received or have expired, so a
/// group message counts once against <c>LocalCapacity</c>. A group message with no local member
/// is acked at once: it must not hold a prefetch slot.
/// </summary>
internal sealed class RouterActor : UntypedActor, IWithTimers
{
    internal static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(5);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LayerCounters _counters;
    private readonly string _queueName;
    private readonly HashSet<ulong> _handedOverBeforeLoss = [];
    private readonly int _localCapacity;
    private readonly ChannelActor.ChannelSettings _settings;
    private readonly LayerRoutes _routes;
    private System.Collections.Concurrent.ConcurrentDictionary<string, ChannelEntry> _channels;
    private int _liveChannels;
    private int _peakChannels;

    private readonly Dictionary<string, string[]> _groupMembers = new(StringComparer.Ordinal);
    private bool _closed;
    private IActorRef _closeRequester = ActorRefs.Nobody;
    private int _channelsClosing;
    private bool _publishedBiggest;

    public RouterActor(LayerCounters counters, int localCapacity, ChannelActor.ChannelSettings settings, LayerRoutes routes)
    {
        _settings = settings;
        _routes = routes;
        _channels = routes.Channels;
        _counters = counters;
        _queueName = counters.QueueName;
        _localCapacity = localCapacity;
    }

    public static Props Props(LayerCounters counters, int localCapacity, ChannelActor.ChannelSettings settings, LayerRoutes routes) =>
        global::Akka.Actor.Props.Create(() => new RouterActor(counters, localCapacity, settings, routes));

    /// <summary>A decoded delivery from the consumer.</summary>
    public sealed record Inbound(IAmqpSession Session, ulong DeliveryTag, DecodedMessage Decoded)
    {
        public bool Redelivered { get; init; }

        public ulong Fingerprint { get; init; }

        public TraceHeaders Trace { get; init; }
    }

    /// <summary>A caller waits for the next message of <paramref name="Channel"/>.</summary>
    public sealed record WaitForMessage(string Channel, PendingReply<IReadOnlyDictionary<string, object?>> Reply);

    /// <summary>Push every message of <paramref name="Channel"/> to an actor.</summary>
    public sealed record Subscribe(string Channel, IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>End a subscription.</summary>
    public sealed record Unsubscribe(string Channel, IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>A waiting caller gave up.</summary>
    public sealed record ReceiveCancelled(string Channel, PendingReply<IReadOnlyDictionary<string, object?>> Reply);

    /// <summary>The local members of a group changed (from the group-membership actor).</summary>
    public sealed record GroupMembersChanged(string Group, string[] Members);

    /// <summary>A channel actor dropped copies by local expiry and a (throttled) warning is due.</summary>
    public sealed class WarnExpired
    {
        public static WarnExpired Instance { get; } = new();
        private WarnExpired() { }
    }

    /// <summary>The consumer found the layer back-pressuring and a (throttled) warning is due.</summary>
    public sealed class WarnBackPressure
    {
        public static WarnBackPressure Instance { get; } = new();
        private WarnBackPressure() { }
    }

    /// <summary>A channel actor has been idle since it handled <paramref name="Handled"/> messages.</summary>
    public sealed record ChannelIdle(string Channel, long Handled);

    /// <summary>
    /// The connection that delivered these envelopes is gone. When the broker requeues what it
    /// had delivered (a queue that outlives its connection), the local copies must go, or they
    /// would be delivered twice.
    /// </summary>
    public sealed record SessionLost(IAmqpSession Session, bool DeliveriesRequeued);


    /// <summary>The layer closes: fail all waiting receivers, drop buffers.</summary>
    public sealed class Close
    {
        public static Close Instance { get; } = new();
        private Close() { }
    }

    /// <summary>Reply to <see cref="Close"/>.</summary>
    public sealed class Closed
    {
        public static Closed Instance { get; } = new();
        private Closed() { }
    }

    /// <summary>Asks for a snapshot of the biggest channel buffers (for statistics and tests).</summary>
    public sealed class GetBacklog
    {
        public static GetBacklog Instance { get; } = new();
        private GetBacklog() { }
    }

    /// <summary>Reply to <see cref="GetBacklog"/>.</summary>
    public sealed record Backlog(int Unacked, int LiveChannels, IReadOnlyList<KeyValuePair<string, int>> Biggest);

    private sealed class RefreshStatistics
    {
        public static RefreshStatistics Instance { get; } = new();
        private RefreshStatistics() { }
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() =>
        Timers.StartPeriodicTimer(RefreshStatistics.Instance, RefreshStatistics.Instance, TimeSpan.FromSeconds(1));

    protected override void PostStop()
    {
        // The channel actors stop with this one (also on a restart): callers must not reach them.
        foreach (var entry in _channels.Values) entry.MarkStopped();
        _channels.Clear();
        _counters.LiveChannelCount(0);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Inbound inbound:
                try
                {
                    Dispatch(inbound);
                }
                finally
                {
                    _routes.InboundDispatched();
                }
                break;
            case WaitForMessage receive:
                if (_closed) { receive.Reply.TryFail(new ChannelLayerClosedException()); break; }
                SendToChannel(receive.Channel, new ChannelActor.WaitForMessage(receive.Reply));
                break;
            case Subscribe subscribe:
                if (_closed) { subscribe.Reply.TryFail(new ChannelLayerClosedException()); break; }
                SendToChannel(subscribe.Channel, new ChannelActor.Subscribe(subscribe.Subscriber, subscribe.Reply));
                break;
            case Unsubscribe unsubscribe:
                if (_channels.ContainsKey(unsubscribe.Channel))
                    SendToChannel(unsubscribe.Channel, new ChannelActor.Unsubscribe(unsubscribe.Subscriber, unsubscribe.Reply));
                else
                    unsubscribe.Reply.TrySucceed(Done.Instance);
                break;
            case RefreshStatistics:
                while (_routes.IdleChecks.TryDequeue(out var handed))
                {
                    handed.IdleCheckTaken();
                    if (handed.Parked is null && _channels.TryGetValue(handed.Channel, out var live) && live == handed)
                        handed.Actor.Tell(ChannelActor.CheckIdle.Instance);
                }
                // Nothing held and nothing published: no need to walk every channel.
                if (_counters.LocalBacklog > 0 || _publishedBiggest)
                {
                    var biggest = Biggest(3);
                    _counters.BiggestBuffers(biggest);
                    _publishedBiggest = biggest.Count > 0;
                }
                break;
            case ReceiveCancelled cancelled:
                if (_channels.ContainsKey(cancelled.Channel))
                    SendToChannel(cancelled.Channel, new ChannelActor.ReceiveCancelled(cancelled.Reply));
                break;
            case WarnBackPressure:
                _log.Warning("Back-pressuring. Biggest queues: {0}", DescribeBiggest());
                break;
            case WarnExpired:
                _log.Warning("A message (or messages) expired locally. Biggest queues: {0}", DescribeBiggest());
                break;
            case ChannelIdle idle:
                // Only if nothing was told to it since (by this router or by a caller directly).
                if (!_closed && _channels.TryGetValue(idle.Channel, out var entry) && entry.Actor.Equals(Sender) && entry.TryStopIdle(idle.Handled))
                {
                    _channels.TryRemove(idle.Channel, out _);
                    Context.Stop(entry.Actor);
                    _counters.LiveChannelCount(--_liveChannels);
                    if (_peakChannels >= 256 && _liveChannels < _peakChannels / 4)
                    {
                        _channels = _routes.ShrinkChannels();
                        _peakChannels = _liveChannels;
                    }
                }
                break;
            case GroupMembersChanged changed:
                if (changed.Members.Length == 0) _groupMembers.Remove(changed.Group);
                else _groupMembers[changed.Group] = changed.Members;
                break;
            case SessionLost lost when lost.DeliveriesRequeued:
                // The broker requeues what it had not seen acked: at most the prefetch window, all
                // among the latest deliveries. Those handed over lately may be redelivered.
                _handedOverBeforeLoss.Clear();
                _routes.HandedOver.TakeFrom(lost.Session, _handedOverBeforeLoss);
                foreach (var channel in _channels.Values) channel.Actor.Tell(new ChannelActor.DiscardFrom(lost.Session));
                break;
            case SessionLost:
                // The exclusive queue died with the connection, so nothing will be redelivered:
                // local copies stay deliverable; their acks go nowhere, which is harmless.
                break;
            case GetBacklog:
                Sender.Tell(new Backlog(_counters.LocalBacklog, _liveChannels, Biggest(int.MaxValue)));
                break;
            case Close:
                // Closed only once every channel actor has failed what it holds and what was
                // already on its way to it: stopping it earlier would drop those receives unanswered.
                _closed = true;
                _routes.CloseInbound();
                _closeRequester = Sender;
                foreach (var channel in _channels.Values)
                {
                    channel.Actor.Tell(ChannelActor.Close.Instance);
                    _channelsClosing++;
                }
                if (_channelsClosing == 0) _closeRequester.Tell(Closed.Instance);
                break;
            case ChannelActor.ClosedDown:
                if (--_channelsClosing == 0) _closeRequester.Tell(Closed.Instance);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Dispatch(Inbound inbound)
    {
        var decoded = inbound.Decoded;
        if (_closed) return;
        if (inbound.Redelivered && _handedOverBeforeLoss.Remove(inbound.Fingerprint))
        {
            // Handed over before the connection was lost, but its ack was lost with it: at most once.
            inbound.Session.Ack(inbound.DeliveryTag);
            _counters.DuplicateSuppressed();
            _log.Debug("Dropped a redelivered message that was already received before the reconnect");
            return;
        }
        if (decoded.Channel is { } channel)
        {
            if (!IsOwnChannel(channel))
            {
                // Nobody here can ever receive it: holding it would cost a prefetch slot until it expires.
                inbound.Session.Ack(inbound.DeliveryTag);
                _counters.DroppedNoRecipient();
                _log.Warning("Dropped a message for channel '{0}': it is not a channel of this layer's queue {1}",
                    channel.Length > 120 ? channel[..120] + "…" : channel, _queueName);
                return;
            }
            Enqueue(inbound, [channel]);
        }
        else if (decoded.Group is { } group && _groupMembers.TryGetValue(group, out var members))
        {
            Enqueue(inbound, members);
        }
        else
        {
            // No local member (any more): ack now, or it would hold a prefetch slot forever.
            inbound.Session.Ack(inbound.DeliveryTag);
            _counters.DroppedNoRecipient();
            _log.Debug("Dropped a message for group {0}: no local member", decoded.Group);
        }
    }

    private void Enqueue(Inbound inbound, string[] channels)
    {
        var envelope = new Envelope(inbound.Session, inbound.DeliveryTag, inbound.Decoded.Message, channels.Length, Environment.TickCount64)
        {
            Fingerprint = inbound.Fingerprint,
            Trace = inbound.Trace,
        };
        _counters.AdjustBacklog(+1);
        ChannelActor.Enqueue? enqueue = null; // immutable: one for every copy
        var requeued = ChannelActor.Requeued(envelope, _settings);
        var pushed = 0;
        foreach (var channel in channels)
            if (_routes.OfferCopy(EntryOf(channel), envelope, requeued, ref enqueue, alwaysTell: true) == CopyOutcome.Pushed)
                pushed++;
        if (pushed > 0) ChannelActor.PushedCopiesDone(envelope, pushed, requeued, _settings);
        if (inbound.Decoded.Group is not null) _counters.GroupDelivered(channels.Length);
        if (_counters.LocalBacklog >= _localCapacity && _counters.BackPressureWarningDue(WarningInterval))
            _log.Warning("Back-pressuring. Biggest queues: {0}", DescribeBiggest());
    }

    private bool IsOwnChannel(string channel) =>
        Names.IsValidChannelName(channel) && Names.IsProcessSpecific(channel) &&
        string.Equals(Names.QueueOf(channel), _queueName, StringComparison.Ordinal);

    private ChannelEntry EntryOf(string channel)
    {
        if (!_channels.TryGetValue(channel, out var entry))
        {
            entry = new ChannelEntry(channel, _settings);
            entry.Actor = Context.ActorOf(ChannelActor.Props(entry, _settings));
            _channels[channel] = entry;
            _counters.LiveChannelCount(++_liveChannels);
            _peakChannels = Math.Max(_peakChannels, _liveChannels);
        }
        return entry;
    }

    private void SendToChannel(string channel, object message)
    {
        var entry = EntryOf(channel);
        entry.TryCountSend(); // always counts: only this actor stops channel actors
        entry.Actor.Tell(message);
    }

    private string DescribeBiggest() =>
        string.Join(", ", Biggest(3).Select(b => $"{b.Key} ({b.Value})"));

    private List<KeyValuePair<string, int>> Biggest(int count)
    {
        // Only channels holding copies are sorted (at most the backlog's worth), each read once.
        var holding = new List<KeyValuePair<string, int>>();
        foreach (var (channel, entry) in _channels)
            if (entry.Buffered is > 0 and var buffered) holding.Add(new(channel, buffered));
        holding.Sort(static (a, b) => b.Value.CompareTo(a.Value));
        if (holding.Count > count) holding.RemoveRange(count, holding.Count - count);
        return holding;
    }
}
