using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The control plane of deliveries: which channels live (it starts a <see cref="ChannelActor"/>
/// for a channel on its first delivery, receive or subscription, and forgets it when that actor
/// ends its inbox), which local channels belong to which group (told by the group-membership
/// actor), and which redeliveries after a lost connection were received already. It dispatches
/// what the consumer cannot: group messages (a copy to each local member), redeliveries, and
/// messages for a channel with no live inbox; a message to a live channel goes from the consumer
/// straight into its inbox (<see cref="LayerRoutes.TryDeliverDirectly"/>). A group message with
/// no local member, and a message for a channel that is not this layer's, is acked and dropped
/// at once: it must not hold a prefetch slot.
/// </summary>
internal sealed class RouterActor : UntypedActor, IWithTimers
{
    internal static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(5);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LayerCounters _counters;
    private readonly string _queueName;
    private readonly Dictionary<(ulong Fingerprint, string Channel), int> _receivedBeforeLoss = [];
    private readonly Dictionary<(ulong Fingerprint, string Channel), int> _owedAfterLoss = [];
    private readonly int _localCapacity;
    private readonly ChannelActor.ChannelSettings _settings;
    private readonly LayerRoutes _routes;
    private System.Collections.Concurrent.ConcurrentDictionary<string, ChannelInbox> _inboxes;
    private int _liveChannels;
    private int _peakChannels;

    // The channels whose inbox handed over a copy of the delivery being dispatched (reused).
    private readonly List<string> _handedOver = [];

    private readonly Dictionary<string, string[]> _groupMembers = new(StringComparer.Ordinal);
    private bool _closed;
    private bool _publishedBiggest;

    public RouterActor(LayerCounters counters, int localCapacity, ChannelActor.ChannelSettings settings, LayerRoutes routes)
    {
        _settings = settings;
        _routes = routes;
        _inboxes = routes.Inboxes;
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

    /// <summary>A receiver for a channel with no live inbox (or one that ended as the caller reached it).</summary>
    public sealed record WaitForMessage(string Channel, ReceiveWaiter Waiter);

    /// <summary>A message received by an asker that had given up: back to its channel (<see cref="ChannelInbox.TryReturn"/>).</summary>
    public sealed record ReturnUnreceived(string Channel, IReadOnlyDictionary<string, object?> Message);

    /// <summary>Push every message of <paramref name="Channel"/> to an actor.</summary>
    public sealed record Subscribe(string Channel, IActorRef Subscriber, PendingReply<Done> Reply);

    /// <summary>End a subscription.</summary>
    public sealed record Unsubscribe(string Channel, IActorRef Subscriber, PendingReply<Done> Reply);

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

    /// <summary>A channel actor ended its idle inbox and stops.</summary>
    public sealed record ChannelEnded(ChannelInbox Inbox);

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
        // The channel actors stop with this one (their PostStop closes their inboxes): callers
        // must not reach them.
        _routes.CloseInbound();
        foreach (var inbox in _inboxes.Values) inbox.Close();
        _inboxes.Clear();
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
                if (_closed) receive.Waiter.TryFail(new ChannelLayerClosedException());
                else while (!InboxOf(receive.Channel).TryWait(receive.Waiter)) { }
                break;
            case ReturnUnreceived returned:
                if (!_closed)
                    while (!InboxOf(returned.Channel).TryReturn(returned.Message)) { }
                break;
            case Subscribe subscribe:
                if (_closed) { subscribe.Reply.TryFail(new ChannelLayerClosedException()); break; }
                var target = InboxOf(subscribe.Channel);
                while (!target.TryExpectControl()) target = InboxOf(subscribe.Channel);
                target.Owner.Tell(new ChannelActor.Subscribe(subscribe.Subscriber, subscribe.Reply));
                break;
            case Unsubscribe unsubscribe:
                // No live inbox, or one that ended: nobody subscribes there.
                if (_inboxes.TryGetValue(unsubscribe.Channel, out var subscribed) && subscribed.TryExpectControl())
                    subscribed.Owner.Tell(new ChannelActor.Unsubscribe(unsubscribe.Subscriber, unsubscribe.Reply));
                else
                    unsubscribe.Reply.TrySucceed(Done.Instance);
                break;
            case RefreshStatistics:
                // Nothing held and nothing published: no need to walk every channel.
                if (_counters.LocalBacklog > 0 || _publishedBiggest)
                {
                    var biggest = Biggest(3);
                    _counters.BiggestBuffers(biggest);
                    _publishedBiggest = biggest.Count > 0;
                }
                break;
            case WarnBackPressure:
                _log.Warning("Back-pressuring. Biggest queues: {0}", DescribeBiggest());
                break;
            case WarnExpired:
                _log.Warning("A message (or messages) expired locally. Biggest queues: {0}", DescribeBiggest());
                break;
            case ChannelEnded ended:
                if (_inboxes.TryRemove(new KeyValuePair<string, ChannelInbox>(ended.Inbox.Channel, ended.Inbox)))
                {
                    _counters.LiveChannelCount(--_liveChannels);
                    if (_peakChannels >= 256 && _liveChannels < _peakChannels / 4)
                    {
                        _inboxes = _routes.ShrinkInboxes();
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
                // Discard first: the discarded copies are recorded as owed to their channels.
                foreach (var inbox in _inboxes.Values) inbox.DiscardFrom(lost.Session);
                _receivedBeforeLoss.Clear();
                _owedAfterLoss.Clear();
                _routes.HandedOver.TakeFrom(lost.Session, _receivedBeforeLoss, _owedAfterLoss);
                break;
            case SessionLost:
                // The exclusive queue died with the connection, so nothing will be redelivered:
                // local copies stay deliverable; their acks go nowhere, which is harmless.
                break;
            case GetBacklog:
                Sender.Tell(new Backlog(_counters.LocalBacklog, _liveChannels, Biggest(int.MaxValue)));
                break;
            case Close:
                // Every inbox fails its receivers now, and every later receive: nothing stays unanswered.
                _closed = true;
                _routes.CloseInbound();
                foreach (var inbox in _inboxes.Values) inbox.Close();
                Sender.Tell(Closed.Instance);
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
            DeliverUnlessReceived(inbound, [channel]);
        }
        else if (decoded.Group is { } group && _groupMembers.TryGetValue(group, out var members))
        {
            DeliverUnlessReceived(inbound, members);
        }
        else
        {
            // No local member (any more): ack now, or it would hold a prefetch slot forever.
            inbound.Session.Ack(inbound.DeliveryTag);
            _counters.DroppedNoRecipient();
            _log.Debug("Dropped a message for group {0}: no local member", decoded.Group);
        }
    }

    // A redelivery after a lost connection goes only to the channels that had not received their
    // copy before the loss: at most once per channel. A group delivery is acked only once every
    // local copy has gone, so one member may have received it while another's copy was discarded
    // with the session: that member must still get it. A copy discarded with the session is owed
    // first: a body identical to one received earlier is another message, not a duplicate.
    private void DeliverUnlessReceived(Inbound inbound, string[] channels)
    {
        if (inbound.Redelivered && _receivedBeforeLoss.Count > 0)
        {
            List<string>? owed = null;
            var received = 0;
            foreach (var channel in channels)
            {
                var key = (inbound.Fingerprint, channel);
                if (!Take(_owedAfterLoss, key) && Take(_receivedBeforeLoss, key)) received++;
                else (owed ??= []).Add(channel);
            }
            if (received > 0)
            {
                _counters.DuplicateSuppressed();
                _log.Debug("A redelivered message was already received by {0} of its {1} local recipient(s) before the reconnect; not delivered to them again",
                    received, channels.Length);
                if (owed is null)
                {
                    inbound.Session.Ack(inbound.DeliveryTag);
                    return;
                }
                channels = owed.ToArray();
            }
        }
        Deliver(inbound, channels);
    }

    private static bool Take(Dictionary<(ulong, string), int> counts, (ulong, string) key)
    {
        if (!counts.TryGetValue(key, out var n)) return false;
        if (n == 1) counts.Remove(key);
        else counts[key] = n - 1;
        return true;
    }

    // One envelope for the delivery, one copy offered to each channel's inbox.
    private void Deliver(Inbound inbound, string[] channels)
    {
        var envelope = new Envelope(inbound.Session, inbound.DeliveryTag, inbound.Decoded.Message, channels.Length, Environment.TickCount64)
        {
            Fingerprint = inbound.Fingerprint,
            Trace = inbound.Trace,
        };
        _counters.AdjustBacklog(+1);
        _handedOver.Clear();
        foreach (var channel in channels)
            while (!InboxOf(channel).TryOffer(envelope, _handedOver)) { }
        ChannelInbox.CountOut(envelope, _handedOver, _settings);
        if (inbound.Decoded.Group is not null) _counters.GroupDelivered(channels.Length);
        if (_counters.LocalBacklog >= _localCapacity && _counters.BackPressureWarningDue(WarningInterval))
            _log.Warning("Back-pressuring. Biggest queues: {0}", DescribeBiggest());
    }

    private bool IsOwnChannel(string channel) =>
        Names.IsValidChannelName(channel) && Names.IsProcessSpecific(channel) &&
        string.Equals(Names.QueueOf(channel), _queueName, StringComparison.Ordinal);

    // The channel's live inbox; a new channel actor (and inbox) if none lives or it has just ended.
    private ChannelInbox InboxOf(string channel)
    {
        var replaced = _inboxes.TryGetValue(channel, out var inbox);
        if (replaced && !inbox!.IsEnded) return inbox;
        inbox = ChannelActor.Start(Context, channel, _settings);
        _inboxes[channel] = inbox;
        if (replaced) return inbox; // its ChannelEnded will find the new one and leave it
        _counters.LiveChannelCount(++_liveChannels);
        _peakChannels = Math.Max(_peakChannels, _liveChannels);
        return inbox;
    }

    private string DescribeBiggest() =>
        string.Join(", ", Biggest(3).Select(b => $"{b.Key} ({b.Value})"));

    private List<KeyValuePair<string, int>> Biggest(int count)
    {
        // Only channels holding copies are sorted (at most the backlog's worth), each read once.
        var holding = new List<KeyValuePair<string, int>>();
        foreach (var (channel, inbox) in _inboxes)
            if (inbox.Count is > 0 and var buffered) holding.Add(new(channel, buffered));
        holding.Sort(static (a, b) => b.Value.CompareTo(a.Value));
        if (holding.Count > count) holding.RemoveRange(count, holding.Count - count);
        return holding;
    }
}
