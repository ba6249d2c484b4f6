using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Consumers.ConsumerGuideExamples;

namespace ChannelsRabbitMq.Akka.Tests.Consumers;

/// <summary>The typed consumer of docs/actors.md does what the page says (two in-memory "servers" on one broker).</summary>
public sealed class ConsumerGuideSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task What_one_connection_says_reaches_every_connection_in_the_room()
    {
        var broker = new InMemoryBroker();
        await using var alpha = broker.CreateLayer(Sys);
        await using var bravo = broker.CreateLayer(Sys);
        var ann = CreateTestProbe();
        var bob = CreateTestProbe();
        var annConnection = Sys.ActorOf(Props.Create(() => new ChatConnection(alpha, "lobby", ann.Ref)));
        Sys.ActorOf(Props.Create(() => new ChatConnection(bravo, "lobby", bob.Ref)));
        // Each has joined once its server's queue is bound to the room (a join completes then).
        await AwaitConditionAsync(() => Task.FromResult(
            broker.BindingKeys(alpha.QueueName).Contains("room-lobby") && broker.BindingKeys(bravo.QueueName).Contains("room-lobby")), Timeout);

        annConnection.Tell("hello");

        await bob.ExpectMsgAsync("hello", Timeout);
        await ann.ExpectMsgAsync("hello", Timeout);
    }
}
