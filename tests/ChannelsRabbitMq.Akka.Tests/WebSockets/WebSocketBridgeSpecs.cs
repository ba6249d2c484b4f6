using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using ChannelsRabbitMq.Akka.WebSockets;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.WebSockets;

/// <summary>
/// <see cref="WebSocketBridge"/> and <see cref="WebSocketConsumerActor"/> over a real websocket
/// (both ends over loopback TCP, no web server) and the in-memory layer: frames both ways in
/// order, and each way a connection ends closing the socket cleanly and stopping the actor.
/// </summary>
public sealed class WebSocketBridgeSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output), IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly InMemoryBroker _broker = new();
    private InMemoryChannelLayer _layer = null!;

    public Task InitializeAsync()
    {
        _layer = _broker.CreateLayer(Sys);
        return Task.CompletedTask;
    }

    async Task IAsyncLifetime.DisposeAsync() => await _layer.DisposeAsync();

    /// <summary>Echoes a client's text to its room, and the room's notes to the client; "stop" stops it.</summary>
    // <snippet:websocket-consumer>
    private sealed class RoomConnection : WebSocketConsumerActor
    {
        public sealed record Note(string Text);

        public RoomConnection(IActorChannelLayer layer, WebSocketOutbox outbox) : base(layer, outbox, "room")
        {
            ReceiveChannel<Note>(note => Outbox.TryPost(Encoding.UTF8.GetBytes(note.Text)));
        }

        protected override void OnFrame(WebSocketFrame frame)
        {
            if (frame.Text == "stop") Context.Stop(Self);
            else Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend("room", ChannelMessage.From(new Note(frame.Text))));
        }
    }
    // </snippet:websocket-consumer>

    /// <summary>A server-side and a client-side websocket joined over loopback TCP.</summary>
    private static async Task<(WebSocket Server, WebSocket Client)> ConnectAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            var server = await listener.AcceptTcpClientAsync();
            return (WebSocket.CreateFromStream(server.GetStream(), isServer: true, subProtocol: null, keepAliveInterval: System.Threading.Timeout.InfiniteTimeSpan),
                WebSocket.CreateFromStream(client.GetStream(), isServer: false, subProtocol: null, keepAliveInterval: System.Threading.Timeout.InfiniteTimeSpan));
        }
        finally
        {
            listener.Stop();
        }
    }

    private (IActorRef Actor, WebSocketOutbox Outbox) StartConnection()
    {
        var outbox = new WebSocketOutbox();
        var actor = Sys.ActorOf(Props.Create(() => new RoomConnection(_layer, outbox)));
        Watch(actor);
        return (actor, outbox);
    }

    private static Task SendAsync(WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    private static async Task<(WebSocketMessageType Type, string Text)> ReceiveAsync(WebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None).AsTask().WaitAsync(Timeout);
            length += result.Count;
        } while (!result.EndOfMessage);
        return (result.MessageType, Encoding.UTF8.GetString(buffer, 0, length));
    }

    [Fact]
    public async Task What_the_client_sends_reaches_the_actor_and_what_the_actor_posts_reaches_the_client_in_order()
    {
        var (server, client) = await ConnectAsync();
        var (actor, outbox) = StartConnection();
        var running = WebSocketBridge.RunAsync(server, actor, outbox);

        for (var i = 0; i < 5; i++) await SendAsync(client, $"line {i}");

        for (var i = 0; i < 5; i++) Assert.Equal((WebSocketMessageType.Text, $"line {i}"), await ReceiveAsync(client));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        Assert.Equal((WebSocketCloseStatus.NormalClosure, "closed by the client"), await running.WaitAsync(Timeout));
        await ExpectTerminatedAsync(actor, Timeout);
    }

    [Fact]
    public async Task An_actor_that_stops_closes_the_socket_with_its_reason()
    {
        var (server, client) = await ConnectAsync();
        var (actor, outbox) = StartConnection();
        var running = WebSocketBridge.RunAsync(server, actor, outbox);

        await SendAsync(client, "stop");

        var (type, _) = await ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, client.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, (await running.WaitAsync(Timeout)).Status);
        await ExpectTerminatedAsync(actor, Timeout);
    }

    [Fact]
    public async Task A_message_over_the_limit_closes_the_socket_as_too_big_and_stops_the_actor()
    {
        var (server, client) = await ConnectAsync();
        var (actor, outbox) = StartConnection();
        var running = WebSocketBridge.RunAsync(server, actor, outbox, new WebSocketBridgeOptions { MaxFrameBytes = 16 });

        await SendAsync(client, new string('x', 100));

        var (type, _) = await ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
        await running.WaitAsync(Timeout);
        await ExpectTerminatedAsync(actor, Timeout);
    }

    [Fact]
    public async Task A_client_that_goes_away_ends_the_connection_and_stops_the_actor()
    {
        var (server, client) = await ConnectAsync();
        var (actor, outbox) = StartConnection();
        var running = WebSocketBridge.RunAsync(server, actor, outbox);

        client.Abort();
        client.Dispose();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, (await running.WaitAsync(Timeout)).Status);
        await ExpectTerminatedAsync(actor, Timeout);
    }
}
