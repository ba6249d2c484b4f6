using System.Diagnostics.Metrics;
using Akka.Actor;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// Specs of the actor-facing API: the Ask protocol, push delivery to subscribed actors, the
/// consumer base class, statistics and metrics — over the in-memory transport.
/// </summary>
public sealed class ActorProtocolSpecs : FakeBrokerSpec
{

    public ActorProtocolSpecs(ITestOutputHelper output) : base(output) { }


    [Fact]
    public async Task The_layer_actor_answers_send_and_receive_asks()
    {
        await using var layer = NewLayer();
        var created = await layer.Actor.Ask<ChannelLayerProtocol.ChannelCreated>(new ChannelLayerProtocol.NewChannel(), Timeout);

        await layer.Actor.Ask<global::Akka.Done>(new ChannelLayerProtocol.Send(created.Channel, Message("by ask")), Timeout);
        var received = await layer.Actor.Ask<ChannelLayerProtocol.Received>(new ChannelLayerProtocol.Receive(created.Channel), Timeout);

        Assert.Equal(created.Channel, received.Channel);
        Assert.Equal("by ask", received.Message["text"]);
    }

    [Fact]
    public async Task An_ask_that_fails_throws_the_same_exception_as_the_task_api()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await Broker.NextConnectionAsync(Timeout);
        Broker.NackNextPublishes(1);

        await Assert.ThrowsAsync<ChannelFullException>(() =>
            layer.Actor.Ask<global::Akka.Done>(new ChannelLayerProtocol.Send(channel, Message("full")), Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            layer.Actor.Ask<global::Akka.Done>(new ChannelLayerProtocol.Send("bad name!x", Message("x")), Timeout));
    }

    [Fact]
    public async Task A_subscribed_actor_is_told_every_message_in_order()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);

        for (var i = 0; i < 20; i++) await layer.SendAsync(channel, Message(i.ToString()));

        for (var i = 0; i < 20; i++)
        {
            var received = await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout);
            Assert.Equal(channel, received.Channel);
            Assert.Equal(i.ToString(), received.Message["text"]);
        }
    }

    [Fact]
    public async Task Messages_buffered_before_subscribing_are_told_first()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("early"));
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 1), Timeout);

        await layer.SubscribeAsync(channel, TestActor);
        await layer.SendAsync(channel, Message("late"));

        Assert.Equal("early", (await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout)).Message["text"]);
        Assert.Equal("late", (await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout)).Message["text"]);
    }

    [Fact]
    public async Task A_message_told_to_a_subscriber_is_acked()
    {
        await using var layer = NewLayer(o => o.LocalCapacity = 1);
        var session = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);

        await layer.SendAsync(channel, Message("one"));
        await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout);

        await AwaitAssertAsync(() => Assert.Equal(0, session.Unacked), Timeout);
    }

    [Fact]
    public async Task A_terminated_subscriber_is_unsubscribed_and_later_messages_wait_for_a_receiver()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        var subscriber = CreateTestProbe();
        await layer.SubscribeAsync(channel, subscriber.Ref);
        Watch(subscriber.Ref);
        Sys.Stop(subscriber.Ref);
        await ExpectTerminatedAsync(subscriber.Ref, Timeout);

        await AwaitAssertAsync(async () =>
        {
            // Once the channel has seen the termination, receiving is allowed again.
            var receive = layer.ReceiveAsync(channel);
            await layer.SendAsync(channel, Message("after"));
            Assert.Equal("after", (await receive.WaitAsync(Timeout))["text"]);
        }, Timeout);
    }

    [Fact]
    public async Task An_unsubscribed_actor_is_told_nothing_more()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);
        await layer.UnsubscribeAsync(channel, TestActor);

        await layer.SendAsync(channel, Message("for a receiver"));

        Assert.Equal("for a receiver", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Receiving_from_a_subscribed_channel_is_refused()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);

        await Assert.ThrowsAsync<InvalidOperationException>(() => layer.ReceiveAsync(channel).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_second_subscriber_is_refused()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SubscribeAsync(channel, TestActor);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            layer.SubscribeAsync(channel, CreateTestProbe().Ref).WaitAsync(Timeout));
    }

    private sealed class RoomMember(IActorChannelLayer layer, IActorRef probe) : ChannelConsumerActor(layer, "room")
    {
        protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message) =>
            probe.Tell($"{message["text"]}");

        protected override void OnOtherMessage(object message)
        {
            if (message is "channel?") Sender.Tell(ChannelName);
            else Unhandled(message);
        }
    }

    [Fact]
    public async Task A_consumer_actor_joins_its_groups_on_start_and_leaves_them_on_stop()
    {
        await using var layer = NewLayer();
        var session = await Broker.NextConnectionAsync(Timeout);
        var member = Sys.ActorOf(Props.Create(() => new RoomMember(layer, TestActor)));
        var channel = await member.Ask<string>("channel?", Timeout);

        await layer.GroupSendAsync("room", Message("hello room"));
        await ExpectMsgAsync("hello room", Timeout);
        Assert.Contains("room", session.Bindings);

        Watch(member);
        Sys.Stop(member);
        await ExpectTerminatedAsync(member, Timeout);
        await AwaitConditionAsync(() => Task.FromResult(!session.Bindings.Contains("room")), Timeout);
        Assert.StartsWith(layer.QueueName + "!specific.", channel);
    }

    [Fact]
    public async Task A_consumer_actor_of_a_closed_layer_stops_instead_of_restarting_forever()
    {
        var layer = NewLayer();
        await layer.CloseAsync();

        var member = Sys.ActorOf(Props.Create(() => new RoomMember(layer, TestActor)));
        Watch(member);

        await ExpectTerminatedAsync(member, Timeout);
    }

    [Fact]
    public async Task Messages_buffered_for_a_channel_expire_locally_before_a_subscriber_arrives()
    {
        await using var layer = NewLayer(o => o.LocalExpiry = TimeSpan.FromMilliseconds(20));
        var channel = await layer.NewChannelAsync();

        await EventFilter.Warning(contains: "expired locally").ExpectOneAsync(async () =>
            await layer.SendAsync(channel, Message("stale")));
        await layer.SubscribeAsync(channel, TestActor);
        await layer.SendAsync(channel, Message("fresh"));

        Assert.Equal("fresh", (await ExpectMsgAsync<ChannelLayerProtocol.Received>(Timeout)).Message["text"]);
    }

    [Fact]
    public async Task Statistics_count_sent_received_and_connection_state()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("counted"));
        await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        var statistics = await layer.Actor.Ask<ChannelLayerStatistics>(ChannelLayerProtocol.GetStatistics.Instance, Timeout);

        Assert.True(statistics.Connected);
        Assert.Null(statistics.DisconnectedSince);
        Assert.Equal(layer.QueueName, statistics.QueueName);
        Assert.Equal(1, statistics.MessagesSent);
        Assert.Equal(1, statistics.MessagesReceived);
    }

    [Fact]
    public async Task Metrics_are_published_on_the_ChannelsRabbitMq_Akka_meter()
    {
        await using var layer = NewLayer();
        var measurements = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, long Value, string? Queue)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ChannelLayerTelemetry.Name) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? queue = null;
            foreach (var tag in tags) if (tag.Key == ChannelLayerTelemetry.QueueTag) queue = tag.Value as string;
            measurements.Enqueue((instrument.Name, value, queue));
        });
        listener.Start();
        var channel = await layer.NewChannelAsync();

        await layer.SendAsync(channel, Message("measured"));
        await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        await AwaitAssertAsync(() =>
        {
            Assert.Contains(("messaging.client.sent.messages", 1L, layer.QueueName), measurements);
            Assert.Contains(("messaging.client.consumed.messages", 1L, layer.QueueName), measurements);
        }, Timeout);
    }
}
