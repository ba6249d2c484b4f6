using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.TestKit.ChatConnectionActor;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

// The worked example of docs/testing.md (kept identical to it by DocSnippetSpecs).
// <snippet:chat-room-specs>
public sealed class ChatRoomSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    public ChatRoomSpecs(ITestOutputHelper output) : base(output: output) { }

    /// <summary>Starts a connection actor owned by the kit and waits until it has joined its room.</summary>
    private async Task<IActorRef> ConnectAsync(ChannelLayerTestKit kit, IActorChannelLayer server, string room, IActorRef socket)
    {
        var connection = kit.ActorOf(Props.Create(() => new ChatConnectionActor(server, room, socket)));
        await connection.Ask<string>(GetChannel.Instance, RemainingOrDefault);
        return connection;
    }

    [Fact]
    public async Task The_room_carries_on_across_a_broker_outage()
    {
        // Disposed first (before the TestKit stops the actor system): the actors stop, then the layers close.
        await using var kit = new ChannelLayerTestKit(Sys);
        var server1 = kit.CreateLayer(o => o.ReconnectDelay = TimeSpan.FromMilliseconds(50));
        var server2 = kit.CreateLayer();
        var aliceSocket = CreateTestProbe();
        var bobSocket = CreateTestProbe();
        var alice = await ConnectAsync(kit, server1, "lobby", aliceSocket);
        await ConnectAsync(kit, server2, "lobby", bobSocket);

        await server1.Faults.BeginOutageAsync(this);                 // server1 loses RabbitMQ
        Assert.False(server1.GetStatistics().Connected);
        alice.Tell(new Typed("typed during the outage"));            // waits for the connection
        await server1.Faults.WaitForConnectAttemptsRefusedAsync(server1.Faults.ConnectAttemptsRefused + 1, this);
        server1.Faults.EndOutage();
        await server1.Faults.WaitForReconnectAsync(this);           // bindings replayed too

        await bobSocket.ExpectMsgAsync(new Push("typed during the outage"));
        await aliceSocket.ExpectMsgAsync(new Push("typed during the outage"));
        Assert.Equal(1, server1.GetStatistics().Reconnects);
    }
}
// </snippet:chat-room-specs>
