using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Consumers.ConsumerGuideExamples;

namespace ChannelsRabbitMq.Akka.Tests.Consumers;

/// <summary>The typed consumer of docs/actors.md does what the page says (on the in-memory broker).</summary>
public sealed class ConsumerGuideSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task What_one_connection_says_reaches_every_connection_in_the_room()
    {
        await using var layer = new InMemoryBroker().CreateLayer(Sys);
        var ann = CreateTestProbe();
        var bob = CreateTestProbe();
        var annConnection = Sys.ActorOf(Props.Create(() => new ChatConnection(layer, "lobby", ann.Ref)));
        Sys.ActorOf(Props.Create(() => new ChatConnection(layer, "lobby", bob.Ref)));
        // Both have joined once both hear the room.
        await layer.GroupSendAsync("room-lobby", new ChatMessage("lobby", "host", "welcome")).WaitAsync(Timeout);
        await ann.ExpectMsgAsync("welcome", Timeout);
        await bob.ExpectMsgAsync("welcome", Timeout);

        annConnection.Tell("hello");

        await bob.ExpectMsgAsync("hello", Timeout);
        await ann.ExpectMsgAsync("hello", Timeout);
    }
}
