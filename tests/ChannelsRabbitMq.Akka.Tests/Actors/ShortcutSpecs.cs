using Akka.Actor;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// The hot-path shortcuts (see <see cref="LayerRoutes"/>): a receive served from the buffer,
/// parked by its caller or sent straight to a live channel actor; a publish straight on the
/// open session; a delivery dispatched on the consumer's thread; a copy pushed, handed over or
/// buffered without the channel actor. Each must behave exactly like the actor path it skips:
/// same order, nothing lost while an actor stops or a connection goes away.
/// </summary>
public sealed class ShortcutSpecs : FakeBrokerSpec
{
    public ShortcutSpecs(ITestOutputHelper output) : base(output) { }

    [Fact]
    public async Task Sends_issued_across_the_moment_the_connection_opens_arrive_in_the_order_they_were_issued()
    {
        Broker.RefuseConnects(1);
        await using var layer = NewLayer(o =>
        {
            o.ReconnectDelay = TimeSpan.FromMilliseconds(20);
            o.RemoteCapacity = 100_000;
            o.LocalCapacity = 60_000;
        });
        var channel = await layer.NewChannelAsync();

        // Not awaited one by one: the first are queued in the connection actor, the later ones
        // may take the shortcut, and none may overtake an earlier one.
        var sends = new List<Task>();
        var connected = layer.WaitForConnectionAsync();
        var i = 0;
        while ((!connected.IsCompleted || i < 2_000) && i < 40_000)
        {
            sends.Add(layer.SendAsync(channel, Message((i++).ToString())));
            if (i % 100 == 0) await Task.Yield();
        }
        for (var j = 0; j < 2_000; j++) sends.Add(layer.SendAsync(channel, Message((i++).ToString())));
        await Task.WhenAll(sends).WaitAsync(Timeout);

        for (var expected = 0; expected < i; expected++)
            Assert.Equal(expected.ToString(), (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task A_send_issued_right_after_the_connection_dropped_waits_for_the_next_one_instead_of_being_lost()
    {
        await using var layer = NewLayer(o => o.ReconnectDelay = TimeSpan.FromMilliseconds(200));
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("before")).WaitAsync(Timeout);

        first.Drop();
        var send = layer.SendAsync(channel, Message("after the drop"));
        var second = await Broker.NextConnectionAsync(Timeout);
        await send.WaitAsync(Timeout);

        Assert.NotSame(first, second);
        Assert.Equal("after the drop", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task Messages_arriving_while_a_subscriber_takes_over_a_buffer_keep_their_order()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1_000);
        var channel = await layer.NewChannelAsync();
        for (var i = 0; i < 50; i++) await layer.SendAsync(channel, Message(i.ToString()));
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 50), Timeout);

        // Not awaited one by one: many deliveries reach the router while the channel actor flushes
        // its buffer to the new subscriber; the router must not push a later one ahead of them.
        var subscribed = layer.SubscribeAsync(channel, TestActor);
        var sends = Enumerable.Range(50, 950).Select(i => layer.SendAsync(channel, Message(i.ToString()))).ToArray();
        await Task.WhenAll(sends).WaitAsync(Timeout);
        await subscribed.WaitAsync(Timeout);

        for (var i = 0; i < 1_000; i++)
            Assert.Equal(i.ToString(), (await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout)).Message["text"]);
        await AwaitConditionAsync(() => Task.FromResult(Broker.Current!.Unacked == 0), Timeout);
    }

    [Fact]
    public async Task A_receive_after_its_channel_actor_stopped_idle_starts_a_new_one_and_gets_the_message()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("one"));
        await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        var router = await layer.RouterAsync;
        await AwaitNoLiveChannelAsync(router);

        var receive = layer.ReceiveAsync(channel);
        await layer.SendAsync(channel, Message("two"));

        Assert.Equal("two", (await receive.WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public void A_channel_actor_that_was_told_something_since_its_idle_check_is_not_stopped()
    {
        var entry = new ChannelEntry("q!c", Settings());
        Assert.True(entry.TryCountSend());
        Assert.True(entry.TryCountSend());

        Assert.False(entry.TryMarkStopped(handled: 1)); // a message told after the idle check
        Assert.True(entry.TryMarkStopped(handled: 2));
        Assert.False(entry.TryCountSend()); // callers now go through the router
    }

    [Fact]
    public void The_router_pushes_directly_only_once_the_channel_actor_has_handled_everything_told_to_it()
    {
        var entry = new ChannelEntry("q!c", Settings());
        var subscriber = ActorRefs.Nobody;
        entry.TryCountSend();
        entry.TryCountSend();

        entry.Report(handled: 1, subscriber: subscriber, bufferEmpty: true, receiversQueued: false);
        Assert.Null(entry.DirectPushTarget());
        entry.Report(handled: 2, subscriber: subscriber, bufferEmpty: true, receiversQueued: false);
        Assert.Same(subscriber, entry.DirectPushTarget());
        entry.Report(handled: 2, subscriber: null, bufferEmpty: true, receiversQueued: false); // its subscriber died
        Assert.Null(entry.DirectPushTarget());
    }

    [Fact]
    public async Task A_caller_may_publish_directly_only_on_an_open_session_with_nothing_queued_in_the_connection_actor()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var routes = new LayerRoutes(localCapacity: 100);
        Assert.False(routes.TryGetPublishSession(out _, out _));

        routes.OpenPublishShortcut(session, Sys.Log);
        Assert.True(routes.TryGetPublishSession(out var direct, out _));
        Assert.Same(session, direct);
        routes.PublishQueued();
        Assert.False(routes.TryGetPublishSession(out _, out _)); // it would overtake the queued one
        routes.QueuedPublishHandled();
        Assert.True(routes.TryGetPublishSession(out _, out _));
        session.Drop();
        Assert.False(routes.TryGetPublishSession(out _, out _));
        routes.ClosePublishShortcut(session);
        Assert.False(routes.TryGetPublishSession(out _, out _));
    }

    [Fact]
    public async Task A_receive_that_reaches_a_channel_actor_after_the_layer_closed_fails_instead_of_waiting_forever()
    {
        var settings = Settings();
        ChannelMailbox.Register(Sys);
        var channelActor = Sys.ActorOf(ChannelActor.Props(new ChannelEntry("q!c", settings), settings));
        var reply = new PendingReply<IReadOnlyDictionary<string, object?>>(CancellationToken.None, CancellationToken.None);

        channelActor.Tell(ChannelActor.Close.Instance);
        channelActor.Tell(new ChannelActor.WaitForMessage(reply));

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => reply.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Buffer_sizes_stay_exact_after_messages_were_pushed_straight_to_a_subscriber()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);
        for (var i = 0; i < 5; i++) await layer.SendAsync(channel, Message($"pushed {i}"));
        for (var i = 0; i < 5; i++) await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout);

        await layer.UnsubscribeAsync(channel, TestActor);
        for (var i = 0; i < 3; i++) await layer.SendAsync(channel, Message($"buffered {i}"));

        var router = await layer.RouterAsync;
        await AwaitAssertAsync(async () =>
        {
            var backlog = await router.Ask<RouterActor.Backlog>(RouterActor.GetBacklog.Instance, Timeout);
            Assert.Equal([new KeyValuePair<string, int>(channel, 3)], backlog.Biggest);
        }, Timeout, TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_channel_whose_waiting_receiver_the_router_served_directly_still_stops_when_idle()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var router = await layer.RouterAsync;
        var receive = layer.ReceiveAsync(channel);
        await AwaitConditionAsync(async () =>
            (await router.Ask<RouterActor.Backlog>(RouterActor.GetBacklog.Instance, Timeout)).LiveChannels == 1, Timeout);

        await layer.SendAsync(channel, Message("served by the router"));
        Assert.Equal("served by the router", (await receive.WaitAsync(Timeout))["text"]);

        await AwaitNoLiveChannelAsync(router);
    }

    [Fact]
    public void The_router_serves_a_parked_receiver_only_once_the_channel_actor_has_handled_everything_told_to_it()
    {
        var entry = new ChannelEntry("q!c", Settings());
        var receiver = new PendingReply<IReadOnlyDictionary<string, object?>>(CancellationToken.None, CancellationToken.None);
        entry.TryCountSend();
        entry.TryCountSend();
        entry.Park(receiver);

        entry.Report(handled: 1, subscriber: null, bufferEmpty: true, receiversQueued: false);
        Assert.Null(entry.TakeDirectReceiver()); // a copy may still be on its way through the actor
        entry.Report(handled: 2, subscriber: null, bufferEmpty: true, receiversQueued: false);
        Assert.Same(receiver, entry.TakeDirectReceiver());
        Assert.Null(entry.TakeDirectReceiver()); // taken once
    }

    [Fact]
    public async Task A_receive_on_a_channel_with_messages_buffered_completes_at_once_with_the_oldest()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await SendAndAwaitBufferedAsync(layer, channel, 3);

        var receives = Enumerable.Range(0, 3).Select(_ => layer.ReceiveAsync(channel)).ToArray();

        Assert.All(receives, r => Assert.True(r.IsCompletedSuccessfully)); // taken on the caller's thread
        Assert.Equal(["0", "1", "2"], receives.Select(r => (string)r.Result["text"]!));
        await AwaitConditionAsync(() => Task.FromResult(Broker.Current!.Unacked == 0), Timeout);
    }

    [Fact]
    public async Task A_direct_publish_reply_is_cancelled_and_failed_on_close_from_the_thread_pool_never_inside_Cancel()
    {
        using var caller = new CancellationTokenSource();
        using var layerClosed = new CancellationTokenSource();
        var cancelled = new PendingReply<global::Akka.Done>(caller.Token, CancellationToken.None, completedOffActorThreads: true);
        var closed = new PendingReply<global::Akka.Done>(CancellationToken.None, layerClosed.Token, completedOffActorThreads: true);
        using var insideCancel = new ThreadLocal<bool>(); // true only on this thread, during Cancel()
        var ranInsideCancel = new List<bool>();
        var continuations = new[] { cancelled.Task, closed.Task }
            .Select(t => t.ContinueWith(_ => { lock (ranInsideCancel) ranInsideCancel.Add(insideCancel.Value); },
                TaskContinuationOptions.ExecuteSynchronously))
            .ToArray();

        insideCancel.Value = true;
        caller.Cancel();
        layerClosed.Cancel(); // as CloseAsync does, under its lock
        insideCancel.Value = false;
        await Task.WhenAll(continuations).WaitAsync(Timeout);

        Assert.True(cancelled.Task.IsCanceled);
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => closed.Task);
        Assert.Equal([false, false], ranInsideCancel);
    }

    [Fact]
    public async Task The_consumer_dispatches_on_its_own_thread_only_a_first_delivery_to_a_live_channel_with_nothing_queued_in_the_router()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var (routes, entry) = RoutesWithLiveChannel("q!live");
        bool Dispatch(DecodedMessage decoded, bool redelivered = false) =>
            routes.TryDispatchDirect(session, 1, decoded, redelivered, 0, default, ActorRefs.Nobody);
        var toLive = new DecodedMessage(Message("m"), "q!live", null);

        Assert.False(Dispatch(toLive, redelivered: true)); // may be a duplicate only the router recognises
        Assert.False(Dispatch(new DecodedMessage(Message("m"), null, "group"))); // members are the router's
        Assert.False(Dispatch(new DecodedMessage(Message("m"), "q!not-live", null))); // the router starts its actor
        routes.InboundQueued();
        Assert.False(Dispatch(toLive)); // it would overtake the delivery queued in the router
        routes.InboundDispatched();
        Assert.True(Dispatch(toLive));
        Assert.Equal("m", entry.Buffer.Single().Message["text"]); // buffered as the actor would
        entry.TryCountSend();
        Assert.True(Dispatch(toLive)); // the actor has a message to handle first: told to it
        Assert.Equal("m", (await ExpectMsgAsync<ChannelActor.Enqueue>(Timeout)).Envelope.Message["text"]);

        routes.CloseInbound();
        Assert.False(Dispatch(toLive));
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task The_consumer_leaves_a_channel_whose_actor_the_router_stopped_to_the_router()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var (routes, entry) = RoutesWithLiveChannel("q!c");
        Assert.True(entry.TryMarkStopped(handled: 0));

        Assert.False(routes.TryDispatchDirect(session, 1, new DecodedMessage(Message("m"), "q!c", null), false, 0, default, ActorRefs.Nobody));
        Assert.Equal(0, entry.Settings.Counters.LocalBacklog);
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_copy_is_buffered_without_the_channel_actor_only_where_the_actor_would_buffer_it()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var entry = new ChannelEntry("q!c", Settings());
        ChannelsRabbitMq.Akka.Actors.Envelope Copy(string text) => new(session, 1, Message(text), 1, Environment.TickCount64);
        var receiver = new PendingReply<IReadOnlyDictionary<string, object?>>(CancellationToken.None, CancellationToken.None);

        entry.Park(receiver);
        Assert.False(ChannelActor.TryBufferDirectly(entry, Copy("waited for"))); // the receiver gets it, through the actor
        Assert.Same(receiver, entry.TakeParked());

        Assert.True(ChannelActor.TryBufferDirectly(entry, Copy("first")));
        Assert.True(entry.Settings.IdleChecks.TryDequeue(out var check)); // the actor schedules its expiry on the router's tick
        Assert.Same(entry, check);
        entry.TryCountSend();
        Assert.False(ChannelActor.TryBufferDirectly(entry, Copy("early"))); // what was told to the actor may change the buffer
        entry.Report(handled: 1, subscriber: null, bufferEmpty: false, receiversQueued: false);
        Assert.True(ChannelActor.TryBufferDirectly(entry, Copy("second")));

        Assert.Equal(["first", "second"], entry.Buffer.Select(e => (string)e.Message["text"]!));
        Assert.Equal(2, entry.Buffered);
        Assert.False(entry.TryStopIdle(handled: 1)); // copies are buffered: the actor must live
        Assert.True(entry.TryMarkStopped(handled: 1));
        Assert.False(ChannelActor.TryBufferDirectly(entry, Copy("late")));
    }

    [Fact]
    public void A_receiver_parks_itself_only_where_the_channel_actor_would_have_parked_it()
    {
        var entry = new ChannelEntry("q!c", Settings());
        PendingReply<IReadOnlyDictionary<string, object?>> Receiver() => new(CancellationToken.None, CancellationToken.None);

        entry.TryCountSend();
        Assert.False(ChannelActor.TryParkDirectly(entry, Receiver())); // a receive told to the actor comes first
        entry.Report(handled: 1, subscriber: null, bufferEmpty: true, receiversQueued: true);
        Assert.False(ChannelActor.TryParkDirectly(entry, Receiver())); // receivers wait in the actor
        entry.Report(handled: 1, subscriber: ActorRefs.Nobody, bufferEmpty: true, receiversQueued: false);
        Assert.False(ChannelActor.TryParkDirectly(entry, Receiver())); // the actor fails a receive on a subscribed channel
        entry.Report(handled: 1, subscriber: null, bufferEmpty: true, receiversQueued: false);

        var first = Receiver();
        Assert.True(ChannelActor.TryParkDirectly(entry, first));
        Assert.False(ChannelActor.TryParkDirectly(entry, Receiver())); // the second queues in the actor
        Assert.Same(first, entry.TakeDirectReceiver());

        Assert.True(entry.TryStopIdle(handled: 1));
        Assert.False(ChannelActor.TryParkDirectly(entry, Receiver())); // stopped: through the router
    }

    [Fact]
    public void A_channel_actor_that_reported_itself_idle_is_kept_when_a_receiver_parked_itself_since()
    {
        var entry = new ChannelEntry("q!c", Settings());
        var receiver = new PendingReply<IReadOnlyDictionary<string, object?>>(CancellationToken.None, CancellationToken.None);
        Assert.True(ChannelActor.TryParkDirectly(entry, receiver));

        Assert.False(entry.TryStopIdle(handled: 0));
        Assert.True(entry.TryCountSend()); // still live
        Assert.Same(receiver, entry.Parked);
    }

    [Fact]
    public async Task A_channel_whose_buffer_its_receiver_drained_on_its_own_thread_still_stops_when_idle()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await SendAndAwaitBufferedAsync(layer, channel, 3);
        var router = await layer.RouterAsync;

        for (var i = 0; i < 3; i++) Assert.True(layer.ReceiveAsync(channel).IsCompletedSuccessfully); // no hop, no word to the actor

        await AwaitNoLiveChannelAsync(router);
    }

    [Fact]
    public async Task Messages_sent_while_one_receiver_loops_arrive_in_order_whichever_path_each_takes()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 100);
        var channel = await layer.NewChannelAsync();
        const int count = 5_000;

        // The receiver is sometimes behind (copies buffered, added by the consumer or the actor),
        // sometimes ahead (parked by itself or by the actor, served by the consumer or the actor).
        var received = Task.Run(async () =>
        {
            var texts = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                texts.Add((string)(await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]!);
                if (i % 500 == 0) await Task.Delay(1);
            }
            return texts;
        });
        for (var i = 0; i < count; i += 50)
            await Task.WhenAll(Enumerable.Range(i, 50).Select(n => layer.SendAsync(channel, Message(n.ToString())))).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, count).Select(n => n.ToString()), await received.WaitAsync(Timeout));
        await AwaitConditionAsync(() => Task.FromResult(Broker.Current!.Unacked == 0), Timeout);
    }

    // Sends "0", "1", … and waits until the layer holds them all.
    private async Task SendAndAwaitBufferedAsync(RabbitMqChannelLayer layer, string channel, int count)
    {
        for (var i = 0; i < count; i++) await layer.SendAsync(channel, Message(i.ToString()));
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == count), Timeout);
    }

    // Waits until the router has stopped every channel actor (they were idle).
    private Task AwaitNoLiveChannelAsync(IActorRef router) =>
        AwaitAssertAsync(async () =>
            Assert.Equal(0, (await router.Ask<RouterActor.Backlog>(RouterActor.GetBacklog.Instance, Timeout)).LiveChannels),
            Timeout, TimeSpan.FromMilliseconds(100));

    // A channel whose actor is the test actor, live in the routes.
    private (LayerRoutes Routes, ChannelEntry Entry) RoutesWithLiveChannel(string channel)
    {
        var routes = new LayerRoutes(localCapacity: 100);
        var entry = new ChannelEntry(channel, Settings()) { Actor = TestActor };
        routes.Channels[channel] = entry;
        return (routes, entry);
    }

    private static ChannelActor.ChannelSettings Settings() =>
        new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60), RequeuedOnLoss: true, new LayerCounters("q"), new HandedOverLog(16),
            new System.Collections.Concurrent.ConcurrentQueue<ChannelEntry>());
}
