using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.TestKit.ChatConnectionActor;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

// The sample specs of docs/testing.md (kept identical to it by DocSnippetSpecs).
// <snippet:chat-connection-specs>
public sealed class ChatConnectionActorSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public ChatConnectionActorSpecs(ITestOutputHelper output) : base(output: output) { }

    /// <summary>Starts a connection actor and waits until it has joined its room.</summary>
    private async Task<IActorRef> ConnectAsync(IActorChannelLayer layer, string room, IActorRef socket)
    {
        var connection = Sys.ActorOf(Props.Create(() => new ChatConnectionActor(layer, room, socket)));
        await connection.Ask<string>(GetChannel.Instance, Timeout);
        return connection;
    }

    [Fact]
    public async Task A_line_typed_on_one_server_reaches_everyone_in_the_room_on_every_server()
    {
        var broker = new InMemoryBroker();
        await using var server1 = broker.CreateLayer(Sys); // two server processes
        await using var server2 = broker.CreateLayer(Sys); // sharing one (in-memory) RabbitMQ
        var aliceSocket = CreateTestProbe();
        var bobSocket = CreateTestProbe();
        var alice = await ConnectAsync(server1, "lobby", aliceSocket);
        await ConnectAsync(server2, "lobby", bobSocket);

        alice.Tell(new Typed("hello"));

        await aliceSocket.ExpectMsgAsync(new Push("hello"));
        await bobSocket.ExpectMsgAsync(new Push("hello"));
    }

    [Fact]
    public async Task Any_server_can_write_to_one_connection_through_its_channel()
    {
        var broker = new InMemoryBroker();
        await using var web = broker.CreateLayer(Sys);
        await using var worker = broker.CreateLayer(Sys);
        var socket = CreateTestProbe();
        var connection = await ConnectAsync(web, "lobby", socket);
        var channel = await connection.Ask<string>(GetChannel.Instance, Timeout);

        await worker.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "just for you" });

        await socket.ExpectMsgAsync(new Push("just for you"));
    }

    [Fact]
    public async Task The_connection_survives_a_dropped_broker_connection()
    {
        var broker = new InMemoryBroker();
        await using var layer = broker.CreateLayer(Sys);
        var socket = CreateTestProbe();
        var connection = await ConnectAsync(layer, "lobby", socket);

        await layer.Faults.DropConnectionAsync();
        connection.Tell(new Typed("typed while reconnecting"));
        await layer.Faults.WaitForReconnectAsync().WaitAsync(Timeout);

        await socket.ExpectMsgAsync(new Push("typed while reconnecting"));
    }

    [Fact]
    public async Task Against_RabbitMQ_the_connection_survives_the_broker_closing_its_connection()
    {
        var options = new RabbitMqChannelLayerOptions { Host = TestBroker.Url, ReconnectDelay = TimeSpan.FromMilliseconds(100) };
        var (layer, faults) = FaultyRabbitMqChannelLayer.Create(Sys, options,
            new RabbitMqFaultOptions { CtlCommand = RabbitMqFaultSpecs.CtlCommand });
        await using var _ = layer;
        await using var otherServer = new RabbitMqChannelLayer(Sys, options);
        var room = "lobby-" + Guid.NewGuid().ToString("N");
        var socket = CreateTestProbe();
        var connection = await ConnectAsync(layer, room, socket);
        var channel = await connection.Ask<string>(GetChannel.Instance, Timeout);

        Assert.Equal(ConnectionDropSide.Broker, await faults.DropConnectionAsync().WaitAsync(Timeout));
        await faults.WaitForReconnectAsync().WaitAsync(Timeout);
        await otherServer.GroupSendAsync(RoomGroup(room),
            new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "still there?" });

        await socket.ExpectMsgAsync(new Push("still there?"), Timeout); // its group binding came back
        connection.Tell(new Typed("yes"));
        await socket.ExpectMsgAsync(new Push("yes"), Timeout);
        Assert.Equal(channel, await connection.Ask<string>(GetChannel.Instance, Timeout)); // same actor, not restarted
    }
}
// </snippet:chat-connection-specs>
