using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// The rules docs/testing.md states about capacity and teardown, and its worked examples
/// (kept identical to the page by <see cref="DocSnippetSpecs"/>).
/// </summary>
public sealed class TestingGuideSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public TestingGuideSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    private static Dictionary<string, object?> Msg(string text) => new() { ["type"] = "test.message", ["text"] = text };

    [Fact]
    public async Task Sends_fail_after_LocalCapacity_plus_RemoteCapacity_messages_to_the_receiving_layer()
    {
        // <snippet:capacity>
        var broker = new InMemoryBroker();
        // The receiving layer's options decide: it holds 2 in memory (prefetch), its queue 3 more.
        await using var receiver = broker.CreateLayer(Sys, o => { o.LocalCapacity = 2; o.RemoteCapacity = 3; });
        await using var sender = broker.CreateLayer(Sys, o => o.RemoteCapacity = 1000); // irrelevant here
        await receiver.WaitForConnectionAsync();
        var alice = await receiver.NewChannelAsync();
        var bob = await receiver.NewChannelAsync();   // same layer, same queue: shares the capacity

        await sender.SendAsync(alice, Msg("m0"));
        await sender.SendAsync(bob, Msg("m1"));
        // The receiver takes its LocalCapacity into memory as soon as it can; until then they count in the queue.
        await AwaitConditionAsync(() => Task.FromResult(receiver.GetStatistics().LocalBacklog == 2));
        for (var i = 2; i < 5; i++)                    // LocalCapacity + RemoteCapacity = 5 accepted,
            await sender.SendAsync(i % 2 == 0 ? alice : bob, Msg($"m{i}")); // whichever channel they are for

        await Assert.ThrowsAsync<ChannelFullException>(() => sender.SendAsync(bob, Msg("sixth")));
        // </snippet:capacity>
    }

    [Fact]
    public async Task While_the_receiving_layer_is_not_consuming_only_RemoteCapacity_messages_fit()
    {
        var broker = new InMemoryBroker();
        await using var receiver = broker.CreateLayer(Sys, o => { o.LocalCapacity = 2; o.RemoteCapacity = 3; });
        await using var sender = broker.CreateLayer(Sys);
        var channel = await receiver.NewChannelAsync();
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout);
        await receiver.Faults.BeginOutageAsync(this); // the queue survives (QueueMode.Durable); nobody consumes it

        for (var i = 0; i < 3; i++) await sender.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelFullException>(() => sender.SendAsync(channel, Msg("fourth")).WaitAsync(Timeout));
    }

    /// <summary>An application actor that leaves its group in PostStop through the actor protocol, telling <c>replyTo</c> the answer.</summary>
    private sealed class GroupMember(IActorChannelLayer layer, string channel, IActorRef replyTo) : ReceiveActor
    {
        protected override void PostStop() => layer.Actor.Tell(new ChannelLayerProtocol.GroupDiscard("room", channel), replyTo);
    }

    [Fact]
    public async Task Disposing_the_ChannelLayerTestKit_stops_the_application_actors_before_it_closes_the_layers()
    {
        var replies = CreateTestProbe();
        var kit = new ChannelLayerTestKit(Sys);
        var layer = kit.CreateLayer();
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);
        kit.ActorOf(Props.Create(() => new GroupMember(layer, channel, replies.Ref)));

        await kit.DisposeAsync();

        // The layer was still there to answer what the actor told it in PostStop: no dead letter.
        var reply = await replies.ReceiveOneAsync(Timeout);
        Assert.True(reply is global::Akka.Done or Status.Failure { Cause: ChannelLayerClosedException }, $"{reply}");
        Assert.Equal(0, layer.Broker.ConnectionCount); // and the layer is closed
    }
}
