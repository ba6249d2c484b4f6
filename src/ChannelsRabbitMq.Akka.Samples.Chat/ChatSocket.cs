using System.Net.WebSockets;
using Akka.Actor;
using Akka.Hosting;
using ChannelsRabbitMq.Akka.WebSockets;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// <c>GET /ws?room=…&amp;user=…</c>: a websocket connection, run by the library's
/// <see cref="WebSocketBridge"/> for its <see cref="ChatConnectionActor"/>: what the page sends
/// reaches the actor as <see cref="WebSocketFrame"/>s, what the actor posts to its outbox is
/// written to the socket.
/// </summary>
public static class ChatSocket
{
    /// <summary>The largest frame a page may send.</summary>
    public const int MaxFrameBytes = 16 * 1024;

    private static readonly WebSocketBridgeOptions Options = new() { MaxFrameBytes = MaxFrameBytes, CloseHandshakeTimeout = TimeSpan.FromSeconds(5) };

    /// <summary>Handles one websocket request.</summary>
    public static async Task<IResult> HandleAsync(
        HttpContext context,
        IActorChannelLayer layer,
        ServerIdentity server,
        IRequiredActor<ConnectionsSupervisor> supervisor,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggers)
    {
        if (!context.WebSockets.IsWebSocketRequest)
            return Results.Problem(title: "Expected a websocket request.", statusCode: StatusCodes.Status400BadRequest);
        var room = context.Request.Query["room"].ToString() is { Length: > 0 } r ? r : Rooms.DefaultRoom;
        var user = context.Request.Query["user"].ToString() is { Length: > 0 } u ? u : "guest";
        if (!Rooms.IsValidRoom(room) || !Rooms.IsValidUser(user))
        {
            return Results.Problem(
                title: $"Room and user names are 1 to {Rooms.MaxNameLength} letters, digits, '-' or '_'.",
                statusCode: StatusCodes.Status400BadRequest);
        }

        var log = loggers.CreateLogger(typeof(ChatSocket));
        var outbox = new WebSocketOutbox();
        // Host shutting down: say goodbye (1001) before the layer and the actors go.
        using var stopping = lifetime.ApplicationStopping.Register(
            () => outbox.Close(WebSocketCloseStatus.EndpointUnavailable, "server shutting down"));
        IActorRef actor;
        try
        {
            var connections = await supervisor.GetAsync(context.RequestAborted);
            actor = await connections.Ask<IActorRef>(
                new ConnectionsSupervisor.Start(ChatConnectionActor.Props(layer, room, user, server, outbox)),
                TimeSpan.FromSeconds(10), context.RequestAborted);
        }
        catch (Exception e) when (e is AskTimeoutException or ChannelLayerClosedException)
        {
            return Results.Problem(title: "The server is shutting down.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        WebSocket socket;
        try
        {
            socket = await context.WebSockets.AcceptWebSocketAsync();
        }
        catch
        {
            actor.Tell(PoisonPill.Instance);
            throw;
        }
        using (socket)
        {
            log.LogInformation("{User} connected to {Room} ({Actor})", user, room, actor.Path.Name);
            var (_, reason) = await WebSocketBridge.RunAsync(socket, actor, outbox, Options, context.RequestAborted);
            log.LogInformation("{User} left {Room}: {Reason}", user, room, reason);
        }
        return Results.Empty;
    }
}
