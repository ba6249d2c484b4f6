using Akka.Actor;
using ChannelsRabbitMq.Akka;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChatApp;

/// <summary>
/// What an application's tests do with the packages: Akka.TestKit specs of its own actor over the
/// in-memory layer — fan-out across two servers, an outage and its recovery, back-pressure, an
/// Ask from a handler — with the TestKit's signals and teardown.
/// </summary>
public sealed class ChatRoomMemberSpecs : Akka.TestKit.Xunit2.TestKit
{
    public ChatRoomMemberSpecs(ITestOutputHelper output) : base(output: output) { }

    private static Dictionary<string, object?> Line(string text) => new() { ["type"] = "chat.message", ["text"] = text };

    private async Task<IActorRef> JoinAsync(ChannelLayerTestKit kit, IActorChannelLayer server, string room, IActorRef screen)
    {
        var member = kit.ActorOf(Props.Create(() => new ChatRoomMember(server, room, screen)));
        await member.Ask<string>(ChatRoomMember.WhoAmI.Instance, RemainingOrDefault); // answered once it has joined
        return member;
    }

    [Fact]
    public async Task A_line_reaches_the_room_on_both_servers()
    {
        await using var kit = new ChannelLayerTestKit(Sys);
        var server1 = kit.CreateLayer();
        var server2 = kit.CreateLayer();
        var aliceScreen = CreateTestProbe();
        var bobScreen = CreateTestProbe();
        var alice = await JoinAsync(kit, server1, "lobby", aliceScreen);
        await JoinAsync(kit, server2, "lobby", bobScreen);

        alice.Tell(new ChatRoomMember.Typed("hello"));

        await aliceScreen.ExpectMsgAsync(new ChatRoomMember.Shown("hello"));
        await bobScreen.ExpectMsgAsync(new ChatRoomMember.Shown("hello"));
    }

    [Fact]
    public async Task The_room_recovers_from_a_broker_outage()
    {
        await using var kit = new ChannelLayerTestKit(Sys);
        var server1 = kit.CreateLayer(o => o.ReconnectDelay = TimeSpan.FromMilliseconds(50));
        var server2 = kit.CreateLayer();
        var bobScreen = CreateTestProbe();
        var alice = await JoinAsync(kit, server1, "lobby", CreateTestProbe());
        await JoinAsync(kit, server2, "lobby", bobScreen);

        await server1.Faults.BeginOutageAsync(this);
        Assert.False(server1.GetStatistics().Connected);
        alice.Tell(new ChatRoomMember.Typed("sent while down"));
        await server1.Faults.WaitForConnectAttemptsRefusedAsync(server1.Faults.ConnectAttemptsRefused + 1, this);
        server1.Faults.EndOutage();
        await server1.Faults.WaitForReconnectAsync(this);

        await bobScreen.ExpectMsgAsync(new ChatRoomMember.Shown("sent while down"));
        Assert.True(server1.GetStatistics().Connected);
        Assert.Equal(1, server1.GetStatistics().Reconnects);
    }

    [Fact]
    public async Task A_full_member_queue_refuses_direct_sends()
    {
        await using var kit = new ChannelLayerTestKit(Sys);
        var server = kit.CreateLayer(o => { o.LocalCapacity = 1; o.RemoteCapacity = 1; });
        var sender = kit.CreateLayer();
        await server.WaitForConnectionAsync(this);
        var channel = await server.NewChannelAsync();          // nobody receives from it
        await server.Faults.BeginOutageAsync(this);            // not consuming: only RemoteCapacity fits

        await sender.SendAsync(channel, Line("fits"));

        await Assert.ThrowsAsync<ChannelFullException>(() => sender.SendAsync(channel, Line("refused")));
        Assert.Equal(1, sender.GetStatistics().ChannelFull);
    }

    [Fact]
    public async Task A_handler_asks_the_layer_to_send_and_receive()
    {
        await using var kit = new ChannelLayerTestKit(Sys);
        var server = kit.CreateLayer();
        var channel = (await server.Actor.Ask<ChannelLayerProtocol.ChannelCreated>(new ChannelLayerProtocol.NewChannel(), RemainingOrDefault)).Channel;

        await server.Actor.Ask<Akka.Done>(new ChannelLayerProtocol.Send(channel, Line("asked")), RemainingOrDefault);
        var received = await server.Actor.Ask<ChannelLayerProtocol.Received>(
            new ChannelLayerProtocol.Receive(channel) { Timeout = TimeSpan.FromSeconds(1) }, TimeSpan.FromSeconds(3));

        Assert.Equal("asked", received.Message["text"]);
    }

    [Fact]
    public async Task A_lost_delivery_is_counted_and_the_next_one_arrives()
    {
        await using var kit = new ChannelLayerTestKit(Sys);
        var server = kit.CreateLayer();
        var screen = CreateTestProbe();
        await JoinAsync(kit, server, "lobby", screen);

        var dropped = server.Faults.DropNextDeliveries(1);
        await server.GroupSendAsync(ChatRoomMember.RoomGroup("lobby"), Line("lost"));
        await dropped;
        await server.GroupSendAsync(ChatRoomMember.RoomGroup("lobby"), Line("arrives"));

        await screen.ExpectMsgAsync(new ChatRoomMember.Shown("arrives"));
        Assert.Equal(1, server.GetStatistics().DroppedSimulated);
    }
}
