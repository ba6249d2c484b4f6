using Akka.Actor;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// Specs of the layer's actors through the transport seam: connection loss, retries, conflicts,
/// nacks, acks and local expiry, driven by an in-memory broker. The same behaviours run against
/// a real RabbitMQ in the integration tests.
/// </summary>
public sealed class LayerActorSpecs : FakeBrokerSpec
{

    public LayerActorSpecs(ITestOutputHelper output) : base(output) { }


    [Fact]
    public async Task Connection_actor_restarts_after_a_disconnect_and_replays_every_group_binding()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var alice = await layer.NewChannelAsync();
        var bob = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room-1", alice);
        await layer.GroupAddAsync("room-2", bob);
        await layer.GroupAddAsync("room-2", alice);

        first.Drop();
        var second = await Broker.NextConnectionAsync(Timeout);
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        Assert.NotSame(first, second);
        Assert.Equal(["room-1", "room-2"], second.Bindings.Order());
        await layer.GroupSendAsync("room-1", Message("after the reconnect"));
        var received = await layer.ReceiveAsync(alice).WaitAsync(Timeout);
        Assert.Equal("after the reconnect", received["text"]);
    }

    [Fact]
    public async Task Failed_connection_attempts_are_logged_and_retried()
    {
        Broker.RefuseConnects(3);
        RabbitMqChannelLayer? layer = null;

        // Logged once (an Error: the layer never connected), then quietly at Debug.
        await EventFilter.Error(contains: "Failure connecting").ExpectOneAsync(async () =>
        {
            await EventFilter.Debug(contains: "Failure connecting").ExpectAsync(2, async () =>
            {
                layer = NewLayer();
                await Broker.NextConnectionAsync(Timeout);
            });
        });

        Assert.Equal(4, Broker.ConnectAttempts);
        await layer!.CloseAsync();
    }

    [Fact]
    public async Task A_send_issued_while_disconnected_waits_for_the_next_connection()
    {
        Broker.RefuseConnects(2);
        await using var layer = NewLayer(o => o.ReconnectDelay = TimeSpan.FromMilliseconds(300));
        var channel = await layer.NewChannelAsync();

        var send = layer.SendAsync(channel, Message("queued while offline"));
        Assert.False(send.IsCompleted);

        await Broker.NextConnectionAsync(Timeout);
        await send.WaitAsync(Timeout);
        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("queued while offline", received["text"]);
    }

    [Fact]
    public async Task A_send_waiting_for_a_connection_can_be_cancelled()
    {
        Broker.RefuseConnects(int.MaxValue);
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        using var cts = new CancellationTokenSource();

        var send = layer.SendAsync(channel, Message("never sent"), cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(Timeout));
    }

    [Fact]
    public async Task With_an_exclusive_queue_a_queue_name_held_by_another_connection_is_retried_until_it_is_free()
    {
        Broker.ReportQueueConflicts(2);
        RabbitMqChannelLayer? layer = null;

        await EventFilter.Error(contains: "is held by another connection").ExpectOneAsync(async () =>
        {
            await EventFilter.Debug(contains: "is held by another connection").ExpectOneAsync(async () =>
            {
                layer = NewLayer(o => o.QueueMode = QueueMode.Exclusive);
                await Broker.NextConnectionAsync(Timeout);
            });
        });

        await layer!.CloseAsync();
    }

    [Fact]
    public async Task A_nacked_send_throws_ChannelFullException()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        Broker.NackNextPublishes(1);

        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Message("refused")).WaitAsync(Timeout));
        await layer.SendAsync(channel, Message("accepted")).WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_nacked_group_send_logs_a_warning_and_completes()
    {
        await using var layer = NewLayer();
        await Broker.NextConnectionAsync(Timeout);
        Broker.NackNextPublishes(1);

        await EventFilter.Warning(contains: "dropped by a full queue").ExpectOneAsync(async () =>
            await layer.GroupSendAsync("room", Message("dropped")).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_group_message_with_no_local_member_is_acked_so_it_holds_no_prefetch_slot()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        var session = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();

        session.Inject(WireCodec.Encode(Message("for nobody"), null, "empty-group", 1 << 20));
        await layer.SendAsync(channel, Message("next"));

        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("next", received["text"]);
        Assert.Contains(1UL, Broker.Acks);
    }

    [Fact]
    public async Task A_malformed_body_is_logged_acked_and_dropped_and_delivery_goes_on()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        var session = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();

        await EventFilter.Warning(contains: "malformed").ExpectOneAsync(() =>
        {
            session.Inject([0xc1, 0x00, 0xff]);
            return Task.CompletedTask;
        });
        await layer.SendAsync(channel, Message("still delivering"));

        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("still delivering", received["text"]);
    }

    [Fact]
    public async Task A_message_nobody_receives_expires_locally_with_a_warning_and_is_acked()
    {
        await using var layer = NewLayer(o =>
        {
            o.LocalCapacity = 1;
            o.LocalExpiry = TimeSpan.FromMilliseconds(20);
        });
        var channel = await layer.NewChannelAsync();

        await EventFilter.Warning(contains: "expired locally").ExpectOneAsync(async () =>
            await layer.SendAsync(channel, Message("too old")));
        await layer.SendAsync(channel, Message("fresh"));

        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("fresh", received["text"]);
        Assert.Contains(1UL, Broker.Acks);
    }

    [Fact]
    public async Task Back_pressure_is_logged_with_the_biggest_channel_buffers()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 3);
        var busy = await layer.NewChannelAsync();
        var quiet = await layer.NewChannelAsync();

        await EventFilter.Warning(contains: $"Back-pressuring. Biggest queues: {busy} (2), {quiet} (1)").ExpectOneAsync(async () =>
        {
            await layer.SendAsync(busy, Message("1"));
            await layer.SendAsync(busy, Message("2"));
            await layer.SendAsync(quiet, Message("3"));
        });
    }

    [Fact]
    public async Task A_group_message_for_two_local_members_counts_once_and_is_acked_after_both_received_it()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        var session = await Broker.NextConnectionAsync(Timeout);
        var alice = await layer.NewChannelAsync();
        var bob = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", alice);
        await layer.GroupAddAsync("room", bob);

        await layer.GroupSendAsync("room", Message("hello both"));
        Assert.Equal("hello both", (await layer.ReceiveAsync(alice).WaitAsync(Timeout))["text"]);
        Assert.Equal(1, session.Unacked);
        Assert.Equal("hello both", (await layer.ReceiveAsync(bob).WaitAsync(Timeout))["text"]);

        await AwaitAssertAsync(() => Assert.Equal(0, session.Unacked), Timeout);
    }

    [Fact]
    public async Task A_cancelled_receive_leaves_the_message_for_the_next_receiver()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        using var cts = new CancellationTokenSource();
        var cancelled = layer.ReceiveAsync(channel, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        await layer.SendAsync(channel, Message("kept"));

        Assert.Equal("kept", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task Closing_fails_pending_receives_and_every_later_call()
    {
        var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        var pending = layer.ReceiveAsync(channel);

        await layer.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => pending);
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.SendAsync(channel, Message("late")));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.ReceiveAsync(channel));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.NewChannelAsync());
        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_redelivery_of_a_message_received_before_a_reconnect_is_dropped_and_others_are_delivered()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        var seen = WireCodec.Encode(Message("seen"), channel, null, 1 << 20);
        first.Inject(seen);
        Assert.Equal("seen", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);

        first.Drop();
        var second = await Broker.NextConnectionAsync(Timeout);
        // The broker requeued what it had not seen acked: the one already received, and one never received.
        second.Inject(seen, redelivered: true);
        second.Inject(WireCodec.Encode(Message("unseen"), channel, null, 1 << 20), redelivered: true);

        Assert.Equal("unseen", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
        Assert.Equal(1, layer.Counters.DuplicatesSuppressed);
    }

    [Fact]
    public async Task A_group_message_received_by_one_member_before_a_reconnect_still_reaches_the_member_that_had_not_received_it()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var alice = await layer.NewChannelAsync();
        var bob = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", alice);
        await layer.GroupAddAsync("room", bob);
        var both = WireCodec.Encode(Message("to both"), null, "room", 1 << 20);
        first.Inject(both);
        // Alice takes her copy; Bob's waits in his buffer, so the delivery stays unacked.
        Assert.Equal("to both", (await layer.ReceiveAsync(alice).WaitAsync(Timeout))["text"]);
        Assert.Equal(1, first.Unacked);

        first.Drop();
        var second = await Broker.NextConnectionAsync(Timeout);
        // The broker requeued the unacked delivery: Bob never had his copy, Alice had hers.
        second.Inject(both, redelivered: true);
        second.Inject(WireCodec.Encode(Message("after"), alice, null, 1 << 20));

        Assert.Equal("to both", (await layer.ReceiveAsync(bob).WaitAsync(Timeout))["text"]);
        Assert.Equal("after", (await layer.ReceiveAsync(alice).WaitAsync(Timeout))["text"]);
        Assert.Equal(1, layer.Counters.DuplicatesSuppressed);
    }

    [Fact]
    public async Task A_redelivered_message_identical_to_one_received_before_a_reconnect_is_still_delivered_when_its_own_copy_was_not_received()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        // Two sends of the same body (a heartbeat, say): the first is received and acked, the second waits.
        var ping = WireCodec.Encode(Message("ping"), channel, null, 1 << 20);
        first.Inject(ping);
        first.Inject(ping);
        Assert.Equal("ping", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
        await AwaitConditionAsync(() => Task.FromResult(first.Unacked == 1 && layer.GetStatistics().LocalBacklog == 1), Timeout);

        first.Drop();
        var second = await Broker.NextConnectionAsync(Timeout);
        // The broker requeued only the second (the first was acked): it was never received here.
        second.Inject(ping, redelivered: true);

        Assert.Equal("ping", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
        Assert.Equal(0, layer.Counters.DuplicatesSuppressed);
    }

    [Fact]
    public async Task With_an_exclusive_queue_local_copies_survive_a_disconnect()
    {
        await using var layer = NewLayer(o => o.QueueMode = QueueMode.Exclusive);
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("held in memory"));
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 1), Timeout);

        first.Drop();
        await Broker.NextConnectionAsync(Timeout);

        Assert.Equal("held in memory", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task By_default_local_copies_are_discarded_on_a_disconnect_because_theBroker_requeues_them()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("requeued by the broker"));
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 1), Timeout);

        first.Drop();
        await Broker.NextConnectionAsync(Timeout);

        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 0), Timeout);
        await layer.SendAsync(channel, Message("after"));
        Assert.Equal("after", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task An_idle_channel_actor_stops_and_costs_nothing()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("one"));
        await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        var router = await layer.RouterAsync;

        await AwaitAssertAsync(async () =>
        {
            var backlog = await router.Ask<RouterActor.Backlog>(RouterActor.GetBacklog.Instance, Timeout);
            Assert.Equal(0, backlog.LiveChannels);
        }, Timeout, TimeSpan.FromMilliseconds(200));
    }
}
