using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// <c>GET /ws?room=…&amp;user=…</c>: a websocket connection, pumped between the socket and its
/// <see cref="ChatConnectionActor"/>. Frames from the page (<c>{"text": "…"}</c>) become
/// <see cref="ChatConnectionActor.Say"/>; the actor's outbox is written to the socket.
/// </summary>
public static class ChatSocket
{
    /// <summary>The largest frame a page may send.</summary>
    public const int MaxFrameBytes = 16 * 1024;

    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

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
        var outbox = new ConnectionOutbox();
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
        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            log.LogInformation("{User} connected to {Room} ({Actor})", user, room, actor.Path.Name);
            var sending = SendLoopAsync(socket, outbox, context.RequestAborted);
            var receiving = ReceiveLoopAsync(socket, actor, outbox, context.RequestAborted);
            await sending;
            // The close frame is sent: give the client a moment to answer with its own.
            try
            {
                await receiving.WaitAsync(CloseHandshakeTimeout, context.RequestAborted);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                socket.Abort();
                await receiving;
            }
            log.LogInformation("{User} left {Room}: {Reason}", user, room, outbox.CloseReason.Description);
        }
        finally
        {
            outbox.Close(WebSocketCloseStatus.NormalClosure, "closed");
            actor.Tell(PoisonPill.Instance);
        }
        return Results.Empty;
    }

    // Writes the outbox to the socket, then the close frame.
    private static async Task SendLoopAsync(WebSocket socket, ConnectionOutbox outbox, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var frame in outbox.Frames.ReadAllAsync(cancellationToken))
                await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var (status, description) = outbox.CloseReason;
                await socket.CloseOutputAsync(status, description, cancellationToken);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client went away; the receive loop ends too.
            outbox.Close(WebSocketCloseStatus.EndpointUnavailable, "connection lost");
        }
    }

    // Reads the page's frames until it closes; each {"text": "…"} is told to the actor.
    private static async Task ReceiveLoopAsync(WebSocket socket, IActorRef actor, ConnectionOutbox outbox, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxFrameBytes);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == MaxFrameBytes)
                    {
                        outbox.Close(WebSocketCloseStatus.MessageTooBig, $"frames are at most {MaxFrameBytes} bytes");
                        return;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(length, MaxFrameBytes - length), cancellationToken);
                    length += result.Count;
                } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    outbox.Close(WebSocketCloseStatus.NormalClosure, "closed by the client");
                    return;
                }
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    outbox.TryPost(Frames.Error("Send text frames: {\"text\": \"…\"}."));
                    continue;
                }
                PostedMessage? posted = null;
                try
                {
                    posted = JsonSerializer.Deserialize<PostedMessage>(buffer.AsSpan(0, length), Frames.Json);
                }
                catch (JsonException)
                {
                }
                if (Rooms.TextProblem(posted?.Text) is { } problem)
                    outbox.TryPost(Frames.Error($"Send {{\"text\": \"…\"}}: {problem}."));
                else
                    actor.Tell(new ChatConnectionActor.Say(posted!.Text!));
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            outbox.Close(WebSocketCloseStatus.EndpointUnavailable, "connection lost");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
