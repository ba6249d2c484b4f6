using System.Collections.Concurrent;
using Akka.Actor;
using CsCheck;
using ChannelsRabbitMq.Akka.Actors;
using Xunit;
using Envelope = ChannelsRabbitMq.Akka.Actors.Envelope;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// The inbox's operations run concurrently from several threads (as the consumer, callers and the
/// router do) and the outcome is checked against every sequential order of the same operations
/// (CsCheck's <c>SampleParallel</c>: linearizability). An outcome is what anyone could observe:
/// which message each receive got (or that it gave up), what the subscriber was told, what is
/// still buffered and in which order, which deliveries were acked (each once), and how many
/// receivers still wait. A copy given to a receiver that gave up, a push after an unsubscribe had
/// returned, a lost or doubled ack, a receiver left linked after it was cancelled, or a FIFO
/// broken by a race would each give an outcome no sequential order gives.
/// </summary>
/// <remarks>Alone in its collection: it keeps every core busy, which would starve the timers of specs running beside it.</remarks>
[Collection(Name)]
public sealed class ChannelInboxConcurrencySpecs
{
    public const string Name = "Channel inbox concurrency (runs alone)";

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class RunsAlone;

    [Fact]
    public void Concurrent_offers_receives_cancellations_and_subscriptions_are_linearizable()
    {
        Gen.Const(() => new Harness()).SampleParallel(
            Gen.Int[1, 1000].Operation<Harness>(i => $"Offer({i})", (h, i) => h.Offer(i)),
            Gen.Operation<Harness>("Receive", h => h.Receive()),
            Gen.Operation<Harness>("ReceiveCancellable", h => h.ReceiveCancellable()),
            Gen.Operation<Harness>("CancelOne", h => h.CancelOne()),
            Gen.Operation<Harness>("Subscribe", h => h.Subscribe()),
            Gen.Operation<Harness>("Unsubscribe", h => h.Unsubscribe()),
            equal: (a, b) => a.Holds() && b.Holds() && a.Outcome() == b.Outcome(),
            print: h => h.Outcome(),
            iter: 1000);
    }

    [Fact]
    public void A_close_racing_with_offers_and_receives_leaves_no_receiver_waiting_and_acks_nothing_twice()
    {
        Gen.Const(() => new Harness()).SampleParallel(
            Gen.Int[1, 1000].Operation<Harness>(i => $"Offer({i})", (h, i) => h.Offer(i)),
            Gen.Operation<Harness>("Receive", h => h.Receive()),
            Gen.Operation<Harness>("ReceiveCancellable", h => h.ReceiveCancellable()),
            Gen.Operation<Harness>("CancelOne", h => h.CancelOne()),
            Gen.Operation<Harness>("Close", h => h.Close()),
            equal: (a, b) => a.Holds() && b.Holds() && a.Outcome() == b.Outcome(),
            print: h => h.Outcome(),
            iter: 500);
    }

    /// <summary>One inbox, a session that records acks, a subscriber that records pushes, and every receive's task.</summary>
    internal sealed class Harness
    {
        private readonly CountingSession _session = new();
        private readonly RecordingActorRef _subscriber = new();
        private readonly ConcurrentQueue<Task<IReadOnlyDictionary<string, object?>>> _receives = new();

        public Harness()
        {
            var settings = new ChannelActor.ChannelSettings(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), RequeuedOnLoss: true,
                new LayerCounters("q"), new HandedOverLog(256));
            Inbox = new ChannelInbox("q!c", settings) { Owner = Nobody.Instance };
        }

        public ChannelInbox Inbox { get; }

        private readonly ConcurrentQueue<int> _offered = new();
        private volatile bool _closed;

        public void Offer(int id)
        {
            if (Inbox.TryOffer(new Envelope(_session, (ulong)id, new Dictionary<string, object?> { ["id"] = id }, 1, Environment.TickCount64)))
                _offered.Enqueue(id);
        }

        public void Close()
        {
            _closed = true;
            Inbox.Close();
        }

        /// <summary>
        /// What holds in every order, sequential or not: each offered copy was received, pushed,
        /// is still buffered, or (once closed) dropped — exactly one of these; each received or
        /// pushed copy was acked once and nothing else was; a receiver still waiting is linked in
        /// the inbox and one that finished is not.
        /// </summary>
        public bool Holds()
        {
            var received = _receives.Where(t => t.IsCompletedSuccessfully).Select(t => (int)t.Result["id"]!).ToList();
            var handedOver = received.Concat(_subscriber.Ids).ToList();
            var accounted = handedOver.Concat(Inbox.Buffered.Select(m => (int)m["id"]!)).Order().ToList();
            var offered = _offered.Order().ToList();
            var acked = _session.Acked.Select(tag => (int)tag).ToList();
            var waiting = _receives.Count(t => !t.IsCompleted);
            return waiting == Inbox.WaitingCount
                   && acked.SequenceEqual(handedOver.Order())
                   && (_closed ? IsSubMultiset(accounted, offered) : accounted.SequenceEqual(offered));
        }

        private static bool IsSubMultiset(List<int> part, List<int> whole)
        {
            var left = whole.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
            foreach (var x in part)
                if (!left.TryGetValue(x, out var n) || n == 0) return false;
                else left[x] = n - 1;
            return true;
        }

        public void Receive()
        {
            if (Inbox.Receive(CancellationToken.None, null) is { } task) _receives.Enqueue(task);
        }

        // A receive and its cancellation are two operations: a copy offered between them goes
        // to the receive (it completed before it was cancelled), which one atomic "receive and
        // cancel" could never give in a sequential order.
        private readonly ConcurrentQueue<CancellationTokenSource> _cancellable = new();

        // The receive and the queueing of its token are one step to CancelOne (under this lock):
        // otherwise a receive on one thread could take a message before another thread's receive
        // while its token joined the queue after that one's, an order no sequential run can show,
        // and CancelOne, which cancels the oldest token, would be measured against the wrong order.
        // Offers, closes and plain receives still race with both.
        private readonly object _cancellableOrder = new();

        public void ReceiveCancellable()
        {
            var cts = new CancellationTokenSource();
            lock (_cancellableOrder)
            {
                if (Inbox.Receive(cts.Token, null) is { } task) _receives.Enqueue(task);
                _cancellable.Enqueue(cts);
            }
        }

        /// <summary>Cancels the oldest receive not cancelled yet (if any).</summary>
        public void CancelOne()
        {
            lock (_cancellableOrder)
                if (_cancellable.TryDequeue(out var cts)) cts.Cancel();
        }

        public void Subscribe()
        {
            if (Inbox.TryExpectControl()) Inbox.Subscribe(_subscriber);
        }

        public void Unsubscribe()
        {
            if (Inbox.TryExpectControl()) Inbox.Unsubscribe(_subscriber, expected: true);
        }

        /// <summary>Everything observable, in a form that does not depend on which thread did what first.</summary>
        public string Outcome()
        {
            var got = new List<int>();
            int gaveUp = 0, failed = 0, waiting = 0;
            foreach (var task in _receives)
            {
                if (task.IsCompletedSuccessfully) got.Add((int)task.Result["id"]!);
                else if (task.IsCanceled) gaveUp++;
                else if (task.IsFaulted) failed++;
                else waiting++;
            }
            got.Sort();
            var acked = _session.Acked;
            return $"received [{string.Join(",", got)}] gave up {gaveUp} failed {failed} waiting {waiting} linked {Inbox.WaitingCount} | " +
                   $"pushed [{string.Join(",", _subscriber.Ids)}] | buffered [{string.Join(",", Inbox.Buffered.Select(m => m["id"]))}] | " +
                   $"acked [{string.Join(",", acked)}]";
        }
    }

    /// <summary>Counts acks per delivery tag (ids may repeat across offers, so tags may too).</summary>
    private sealed class CountingSession : ChannelInboxSpecs.RecordingSessionBase
    {
        private readonly ConcurrentQueue<ulong> _acked = new();

        public IEnumerable<ulong> Acked => _acked.Order();

        public override void Ack(ulong deliveryTag) => _acked.Enqueue(deliveryTag);
    }

    /// <summary>A subscriber that records, in order, the ids it was told.</summary>
    private sealed class RecordingActorRef : MinimalActorRef
    {
        private readonly List<int> _ids = [];

        public override ActorPath Path { get; } = new RootActorPath(Address.AllSystems) / "subscriber";

        public override IActorRefProvider Provider => null!;

        public IReadOnlyList<int> Ids
        {
            get { lock (_ids) return _ids.ToArray(); }
        }

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is ChannelLayerProtocol.Received received) lock (_ids) _ids.Add((int)received.Message["id"]!);
        }
    }
}
