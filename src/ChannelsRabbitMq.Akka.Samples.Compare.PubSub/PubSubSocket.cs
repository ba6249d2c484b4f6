using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;

namespace ChannelsRabbitMq.Akka.Samples.Compare.PubSub;

/// <summary>
/// <c>GET /ws?room=…&amp;user=…</c>, the demo's websocket protocol: the server sends
/// <c>{"type":"joined",…}</c>, then <c>{"type":"message",…}</c> for every message of the room;
/// the client sends <c>{"text":"…"}</c>.
/// </summary>
public static class PubSubSocket
{
    private const int MaxFrameBytes = 16 * 1024;

    /// <summary>Handles one websocket request.</summary>
    public static async Task<IResult> HandleAsync(HttpContext context, ServerName server,
        IRequiredActor<PubSubChatApp.Mediator> mediator, IRequiredActor<ConnectionActor.Supervisor> supervisor)
    {
        if (!context.WebSockets.IsWebSocketRequest) return Results.BadRequest("Expected a websocket request.");
        var room = context.Request.Query["room"].ToString() is { Length: > 0 } r ? r : "lobby";
        var user = context.Request.Query["user"].ToString() is { Length: > 0 } u ? u : "guest";
        var outbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1000) { SingleReader = true });
        var connections = await supervisor.GetAsync(context.RequestAborted);
        var actor = await connections.Ask<IActorRef>(new ConnectionActor.Supervisor.Start(
            ConnectionActor.Props(await mediator.GetAsync(context.RequestAborted), room, user, server, outbox.Writer)),
            TimeSpan.FromSeconds(10), context.RequestAborted);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        try
        {
            var writing = Task.Run(async () =>
            {
                await foreach (var frame in outbox.Reader.ReadAllAsync(context.RequestAborted))
                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, context.RequestAborted);
            });
            var buffer = new byte[MaxFrameBytes];
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), context.RequestAborted);
                    length += result.Count;
                } while (!result.EndOfMessage && length < buffer.Length);
                if (result.MessageType == WebSocketMessageType.Close) break;
                using var posted = JsonDocument.Parse(buffer.AsMemory(0, length));
                var text = posted.RootElement.GetProperty("text").GetString();
                if (!string.IsNullOrWhiteSpace(text)) actor.Tell(new ConnectionActor.Say(text));
            }
            outbox.Writer.TryComplete();
            await writing.WaitAsync(TimeSpan.FromSeconds(5));
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "closed", CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or JsonException or TimeoutException
                                      or KeyNotFoundException or InvalidOperationException)
        {
            socket.Abort();
        }
        finally
        {
            actor.Tell(PoisonPill.Instance);
        }
        return Results.Empty;
    }
}
