using System.Collections.Concurrent;
using Akka.Actor;
using Envelope = ChannelsRabbitMq.Akka.Actors.Envelope;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Transport;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// The operations of one channel's inbox, the only way to its data: each pins one rule of
/// ordering, hand-over, abandonment or counting out. The owner is a probe here (it hears the
/// inbox's requests for a check); the real owner is <see cref="ChannelActor"/>.
/// </summary>
public sealed class ChannelInboxSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly RecordingSession _session = new();
    private ulong _nextTag;

    [Fact]
    public async Task Offered_copies_are_received_in_order_and_each_delivery_is_acked_once()
    {
        var inbox = NewInbox();
        for (var i = 0; i < 3; i++) Assert.True(inbox.TryOffer(Copy($"m{i}")));
        for (var i = 0; i < 3; i++) Assert.Equal($"m{i}", Text(await inbox.Receive(CancellationToken.None, null)!));
        Assert.Equal([1UL, 2UL, 3UL], _session.Acked);
    }

    [Fact]
    public async Task A_message_given_back_goes_before_the_buffered_ones_and_is_not_acked_again()
    {
        var inbox = NewInbox();
        inbox.TryOffer(Copy("later"));
        Assert.True(inbox.TryReturn(Message("given back")));
        Assert.Equal("given back", Text(await inbox.Receive(CancellationToken.None, null)!));
        Assert.Equal("later", Text(await inbox.Receive(CancellationToken.None, null)!));
        Assert.Equal([1UL], _session.Acked);
    }

    [Fact]
    public async Task A_waiting_receiver_gets_the_next_offered_copy()
    {
        var inbox = NewInbox();
        var pending = inbox.Receive(CancellationToken.None, null)!;
        Assert.False(pending.IsCompleted);
        inbox.TryOffer(Copy("m"));
        Assert.Equal("m", Text(await pending.WaitAsync(Timeout)));
        Assert.Equal([1UL], _session.Acked);
    }

    [Fact]
    public async Task A_cancelled_receive_takes_nothing_and_the_copy_waits_for_the_next_receive()
    {
        var inbox = NewInbox();
        using var cts = new CancellationTokenSource();
        var abandoned = inbox.Receive(cts.Token, null)!;
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        inbox.TryOffer(Copy("kept"));
        Assert.Equal(1, inbox.Count);
        Assert.Empty(_session.Acked);
        Assert.Equal("kept", Text(await inbox.Receive(CancellationToken.None, null)!));
    }

    [Fact]
    public async Task A_receive_whose_asker_has_stopped_takes_nothing()
    {
        var inbox = NewInbox();
        var asker = Sys.ActorOf(Props.Create(() => new Silent()));
        var abandoned = inbox.Receive(CancellationToken.None, asker)!;
        Watch(asker);
        Sys.Stop(asker);
        ExpectTerminated(asker);
        inbox.TryOffer(Copy("kept"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(Timeout));
        Assert.Equal(1, inbox.Count);
        Assert.Equal("kept", Text(await inbox.Receive(CancellationToken.None, null)!));
    }

    [Fact]
    public async Task A_receive_whose_Ask_timed_out_takes_nothing()
    {
        var inbox = NewInbox();
        var capture = Sys.ActorOf(Props.Create(() => new SenderCapture(TestActor)));
        var ask = capture.Ask<object>("receive", TimeSpan.FromMilliseconds(200));
        var asker = ExpectMsg<IActorRef>();
        var abandoned = inbox.Receive(CancellationToken.None, asker)!;
        Assert.False(new ReceiveWaiter(asker).AskerIsGone);
        await Assert.ThrowsAnyAsync<Exception>(() => ask);
        await AwaitAssertAsync(() => Assert.True(new ReceiveWaiter(asker).AskerIsGone), Timeout);

        inbox.TryOffer(Copy("kept"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(Timeout));
        Assert.Equal(1, inbox.Count);
    }

    [Fact]
    public async Task A_receive_cancelled_before_it_waited_is_not_left_waiting_and_the_idle_inbox_ends()
    {
        // Window 1 of the review: a receive cancelled between its creation and its cancellation's
        // registration must not stay parked (it kept the channel alive for ever).
        var inbox = NewInbox(idleAfter: TimeSpan.FromMilliseconds(1));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var waiter = new ReceiveWaiter(null);
        waiter.CancelWith(cts.Token); // completes it at once
        Assert.True(inbox.TryWait(waiter));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.Task);
        Assert.True(await EndsAsync(inbox));
    }

    [Fact]
    public async Task An_inbox_with_a_waiting_receiver_does_not_end()
    {
        var inbox = NewInbox(idleAfter: TimeSpan.FromMilliseconds(1));
        var pending = inbox.Receive(CancellationToken.None, null)!;
        await Task.Delay(5); // past the idle period: nothing else to await here
        Assert.Null(inbox.Check(out var ended));
        Assert.False(ended);
        Assert.False(pending.IsCompleted);
    }

    [Fact]
    public async Task An_ended_inbox_refuses_offers_and_receives_so_callers_go_through_the_router()
    {
        var inbox = NewInbox(idleAfter: TimeSpan.FromMilliseconds(1));
        Assert.True(await EndsAsync(inbox));
        Assert.False(inbox.TryOffer(Copy("m")));
        Assert.Null(inbox.Receive(CancellationToken.None, null));
        Assert.False(inbox.TryWait(new ReceiveWaiter(null)));
        Assert.False(inbox.TryExpectControl());
    }

    [Fact]
    public async Task A_subscription_on_its_way_keeps_the_inbox_from_ending()
    {
        var inbox = NewInbox(idleAfter: TimeSpan.FromMilliseconds(1));
        Assert.True(inbox.TryExpectControl());
        await Task.Delay(5); // past the idle period
        inbox.Check(out var ended);
        Assert.False(ended);
        Assert.Null(inbox.Subscribe(TestActor));
    }

    [Fact]
    public async Task Closing_fails_waiting_receivers_and_every_later_receive()
    {
        var inbox = NewInbox();
        var pending = inbox.Receive(CancellationToken.None, null)!;
        inbox.Close();
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => pending);
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => inbox.Receive(CancellationToken.None, null)!);
    }

    [Fact]
    public async Task An_expired_copy_is_acked_and_never_handed_over()
    {
        var inbox = NewInbox(localExpiry: TimeSpan.FromMilliseconds(1));
        inbox.TryOffer(Copy("old"));
        await Task.Delay(5); // past the local expiry
        var next = inbox.Receive(CancellationToken.None, null)!;
        Assert.False(next.IsCompleted);
        Assert.Equal([1UL], _session.Acked);
    }

    [Fact]
    public async Task Copies_of_a_lost_session_are_discarded_unacked()
    {
        var inbox = NewInbox();
        inbox.TryOffer(Copy("requeued"));
        inbox.DiscardFrom(_session);
        Assert.Equal(0, inbox.Count);
        var next = inbox.Receive(CancellationToken.None, null)!;
        await Task.Yield();
        Assert.False(next.IsCompleted);
        Assert.Empty(_session.Acked);
    }

    [Fact]
    public void A_subscriber_gets_buffered_copies_first_then_each_new_one_in_order()
    {
        var inbox = NewInbox();
        inbox.TryOffer(Copy("a"));
        inbox.TryExpectControl();
        Assert.Null(inbox.Subscribe(TestActor));
        inbox.TryOffer(Copy("b"));
        Assert.Equal("a", Text(ExpectMsg<ChannelLayerProtocol.Received>().Message));
        Assert.Equal("b", Text(ExpectMsg<ChannelLayerProtocol.Received>().Message));
        Assert.Equal([1UL, 2UL], _session.Acked);
    }

    [Fact]
    public void Nothing_is_pushed_once_unsubscribe_has_returned()
    {
        // Window 2 of the review: a push after UnsubscribeAsync completed.
        var inbox = NewInbox();
        inbox.TryExpectControl();
        inbox.Subscribe(TestActor);
        inbox.TryExpectControl();
        inbox.Unsubscribe(TestActor, expected: true);
        inbox.TryOffer(Copy("after"));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, inbox.Count);
    }

    [Fact]
    public async Task A_receive_on_a_subscribed_channel_fails()
    {
        var inbox = NewInbox();
        inbox.TryExpectControl();
        inbox.Subscribe(TestActor);
        await Assert.ThrowsAsync<InvalidOperationException>(() => inbox.Receive(CancellationToken.None, null)!);
    }

    [Fact]
    public void A_group_message_with_two_local_copies_is_acked_once_after_both()
    {
        var first = NewInbox();
        var second = NewInbox();
        var envelope = new Envelope(_session, ++_nextTag, Message("g"), copies: 2, Environment.TickCount64);
        first.TryOffer(envelope);
        second.TryOffer(envelope);
        Assert.True(first.Receive(CancellationToken.None, null)!.IsCompletedSuccessfully);
        Assert.Empty(_session.Acked);
        Assert.True(second.Receive(CancellationToken.None, null)!.IsCompletedSuccessfully);
        Assert.Equal([1UL], _session.Acked);
    }

    [Fact]
    public async Task Copies_handed_over_during_a_group_dispatch_are_counted_out_together_and_the_delivery_is_acked_once_after_the_last()
    {
        var waiting = NewInbox();
        var buffering = NewInbox();
        var received = waiting.Receive(CancellationToken.None, null)!;
        var envelope = new Envelope(_session, ++_nextTag, Message("g"), copies: 2, Environment.TickCount64);
        var handedOver = new List<string>();

        waiting.TryOffer(envelope, handedOver);
        buffering.TryOffer(envelope, handedOver);
        ChannelInbox.CountOut(envelope, handedOver, Settings());

        Assert.Equal(["q!c"], handedOver);
        Assert.Equal("g", Text(await received.WaitAsync(Timeout)));
        Assert.Empty(_session.Acked);
        Assert.True(buffering.Receive(CancellationToken.None, null)!.IsCompletedSuccessfully);
        Assert.Equal([1UL], _session.Acked);
    }

    [Fact]
    public async Task The_owner_is_asked_for_an_earlier_check_when_a_first_copy_expires_before_the_one_it_scheduled()
    {
        var owner = CreateTestProbe();
        var inbox = NewInbox(localExpiry: TimeSpan.FromSeconds(10), owner: owner.Ref);
        inbox.Check(out _); // the owner's first check
        inbox.TryOffer(Copy("m"));
        owner.ExpectMsg<ChannelActor.CheckNow>();
        inbox.TryOffer(Copy("n"));
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_receiver_that_keeps_up_asks_the_owner_for_one_check_per_idle_period_not_one_per_message()
    {
        var inbox = NewInbox();
        inbox.Check(out _); // the owner's first check
        var waiting = inbox.Receive(CancellationToken.None, null)!;
        inbox.Check(out _); // its scheduled check runs while a receiver waits
        var asked = inbox.ChecksAsked;
        for (var i = 0; i < 100; i++)
        {
            Assert.True(inbox.TryOffer(Copy($"m{i}"))); // taken by the waiting receiver: the channel is idle a moment
            Assert.Equal($"m{i}", Text(await waiting));
            waiting = inbox.Receive(CancellationToken.None, null)!; // and busy again
            if (inbox.ChecksAsked > asked) inbox.Check(out _); // the owner runs the check it was asked for
        }
        Assert.InRange(inbox.ChecksAsked - asked, 0, 1);
    }

    [Fact]
    public void A_receiver_waiting_on_a_quiet_channel_needs_no_scheduled_check()
    {
        var inbox = NewInbox();
        inbox.Check(out _);
        _ = inbox.Receive(CancellationToken.None, null)!;
        Assert.Null(inbox.Check(out var ended));
        Assert.False(ended);
    }

    private ChannelInbox NewInbox(TimeSpan? localExpiry = null, TimeSpan? idleAfter = null, IActorRef? owner = null) =>
        new("q!c", Settings(localExpiry, idleAfter)) { Owner = owner ?? CreateTestProbe().Ref };

    private static ChannelActor.ChannelSettings Settings(TimeSpan? localExpiry = null, TimeSpan? idleAfter = null) =>
        new(localExpiry ?? TimeSpan.FromMinutes(1), idleAfter ?? TimeSpan.FromMinutes(1), RequeuedOnLoss: true, new LayerCounters("q"),
            new HandedOverLog(256));

    // Checks until the inbox ends or says it will not (no sleeps: the due time is what Check says).
    private static async Task<bool> EndsAsync(ChannelInbox inbox)
    {
        for (var i = 0; i < 100; i++)
        {
            var due = inbox.Check(out var ended);
            if (ended) return true;
            if (due is null) return false;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, due.Value - Environment.TickCount64)));
        }
        return false;
    }

    private Envelope Copy(string text) => new(_session, ++_nextTag, Message(text), copies: 1, Environment.TickCount64);

    private static Dictionary<string, object?> Message(string text) => new() { ["type"] = "t", ["text"] = text };

    private static string Text(IReadOnlyDictionary<string, object?> message) => (string)message["text"]!;

    private sealed class Silent : ReceiveActor;

    private sealed class SenderCapture : ReceiveActor
    {
        public SenderCapture(IActorRef report) => ReceiveAny(_ => report.Tell(Sender));
    }

    /// <summary>A session that only records acks (and fails an ack given twice, as a broker would).</summary>
    internal sealed class RecordingSession : RecordingSessionBase
    {
        private readonly ConcurrentQueue<ulong> _acked = new();
        private readonly ConcurrentDictionary<ulong, byte> _seen = new();

        public ulong[] Acked => _acked.ToArray();

        public override void Ack(ulong deliveryTag)
        {
            if (!_seen.TryAdd(deliveryTag, 0)) throw new InvalidOperationException($"Delivery {deliveryTag} acked twice");
            _acked.Enqueue(deliveryTag);
        }
    }

    /// <summary>An open session that supports acks only.</summary>
    internal abstract class RecordingSessionBase : AckOnlySession
    {
        public volatile bool Open = true;

        public override bool IsOpen => Open;
    }
}
