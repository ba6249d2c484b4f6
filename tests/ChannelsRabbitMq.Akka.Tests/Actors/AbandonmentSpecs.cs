using Akka.Actor;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// Every abandonment is an event the layer handles, and none takes a message nobody will see:
/// an Ask whose asker timed out, a receive with a deadline, a call on a closing layer, and an
/// actor of the layer that fails.
/// </summary>
public sealed class AbandonmentSpecs(ITestOutputHelper output) : FakeBrokerSpec(output)
{
    [Fact]
    public async Task Asks_of_receive_that_timed_out_take_no_message()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        for (var i = 0; i < 3; i++)
            await Assert.ThrowsAnyAsync<Exception>(() =>
                layer.Actor.Ask<ChannelLayerProtocol.Received>(new ChannelLayerProtocol.Receive(channel), TimeSpan.FromMilliseconds(100)));

        await layer.SendAsync(channel, Message("for the next receive"));

        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("for the next receive", received["text"]);
    }

    [Fact]
    public async Task A_receive_with_a_timeout_answers_a_TimeoutException_and_leaves_the_next_message_queued()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();

        await Assert.ThrowsAsync<TimeoutException>(() => layer.Actor.Ask<ChannelLayerProtocol.Received>(
            new ChannelLayerProtocol.Receive(channel) { Timeout = TimeSpan.FromMilliseconds(100) }, Timeout));
        await layer.SendAsync(channel, Message("kept"));

        var received = await layer.Actor.Ask<ChannelLayerProtocol.Received>(
            new ChannelLayerProtocol.Receive(channel) { Timeout = Timeout }, Timeout + Timeout);
        Assert.Equal("kept", received.Message["text"]);
    }

    [Fact]
    public async Task A_reply_to_Receive_that_its_asker_no_longer_takes_goes_back_to_the_channel()
    {
        // What Akka does with a reply to an Ask that timed out in the instant it was handed over:
        // it dead-letters it. The layer recognises its own reply and gives the message back.
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var reply = ChannelsRabbitMq.Akka.Actors.UnreceivedReplies.Track(new ChannelLayerProtocol.Received(channel, Message("came back")));

        await EventFilter.Warning(contains: "after the asker had given up").ExpectOneAsync(() =>
        {
            Sys.EventStream.Publish(new DeadLetter(reply, TestActor, Sys.DeadLetters));
            return Task.CompletedTask;
        });

        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        Assert.Equal("came back", received["text"]);
    }

    [Fact]
    public async Task A_dead_lettered_message_that_the_layer_did_not_send_is_left_alone()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        Sys.EventStream.Publish(new DeadLetter(new ChannelLayerProtocol.Received(channel, Message("not ours")), TestActor, Sys.DeadLetters));
        await layer.SendAsync(channel, Message("sent"));

        Assert.Equal("sent", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task Calls_on_a_closed_layer_return_faulted_tasks_instead_of_throwing()
    {
        var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.CloseAsync().WaitAsync(Timeout);

        var calls = new Func<Task>[]
        {
            () => layer.SendAsync(channel, Message("x")),
            () => layer.GroupSendAsync("g", Message("x")),
            () => layer.ReceiveAsync(channel),
            () => layer.GroupAddAsync("g", channel),
            () => layer.GroupDiscardAsync("g", channel),
            () => layer.NewChannelAsync(),
            () => layer.SubscribeAsync(channel, TestActor),
            () => layer.UnsubscribeAsync(channel, TestActor),
            () => layer.WaitForConnectionAsync(),
        };
        foreach (var call in calls)
        {
            var task = call(); // must not throw
            await Assert.ThrowsAsync<ChannelLayerClosedException>(() => task.WaitAsync(Timeout));
        }
    }

    [Fact]
    public async Task Bad_arguments_still_throw_from_the_call()
    {
        var layer = NewLayer();
        await layer.CloseAsync().WaitAsync(Timeout);
        Assert.Throws<ArgumentException>(() => { _ = layer.SendAsync("bad name!x", Message("x")); });
        Assert.Throws<ArgumentException>(() => { _ = layer.ReceiveAsync("other_queue!x"); });
    }

    [Fact]
    public async Task Calls_started_while_the_layer_closes_all_get_their_tasks()
    {
        var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var closing = layer.CloseAsync();
        var calls = Task.WhenAll(layer.SendAsync(channel, Message("x")), layer.ReceiveAsync(channel));

        await closing.WaitAsync(Timeout);
        // Each either completed before the close or failed with it; none hangs, none threw synchronously.
        await Assert.ThrowsAnyAsync<Exception>(() => calls.WaitAsync(Timeout));
        Assert.All(calls.Exception!.InnerExceptions, e => Assert.IsType<ChannelLayerClosedException>(e));
    }

    [Fact]
    public async Task When_the_router_fails_the_layer_fails_loudly_instead_of_half_working()
    {
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        var pending = layer.ReceiveAsync(channel);
        var session = await Broker.NextConnectionAsync(Timeout);

        // The router acks a group message with no local member; make that ack throw.
        Broker.FailAcks = true;
        session.Inject(ChannelsRabbitMq.Akka.Wire.WireCodec.Encode(Message("nobody"), null, "no-members", 1 << 20));

        var error = errors.FishForMessage<Error>(e => e.Message.ToString()!.Contains("failed"), Timeout);
        Assert.Contains("router", error.Message.ToString());
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => pending.WaitAsync(Timeout));
        var send = layer.SendAsync(channel, Message("after"));
        var failure = await Assert.ThrowsAsync<ChannelLayerClosedException>(() => send.WaitAsync(Timeout));
        Assert.IsType<InvalidOperationException>(failure.InnerException);
        var statistics = layer.GetStatistics();
        Assert.True(statistics.Closed);
        Assert.Contains("router", statistics.Failure);
    }
}
