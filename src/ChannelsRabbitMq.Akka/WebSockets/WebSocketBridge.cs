using System.Buffers;
using System.Net.WebSockets;
using Akka.Actor;

namespace ChannelsRabbitMq.Akka.WebSockets;

/// <summary>How <see cref="WebSocketBridge.RunAsync"/> treats a connection.</summary>
public sealed class WebSocketBridgeOptions
{
    /// <summary>The largest message a client may send; a bigger one closes the socket (MessageTooBig). Default 16 KiB.</summary>
    public int MaxFrameBytes { get; init; } = 16 * 1024;

    /// <summary>How long the bridge waits for the client's close frame after sending its own. Default 5 s.</summary>
    public TimeSpan CloseHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Pumps one websocket both ways for the actor that serves it: every message the client sends is
/// told to the actor as a <see cref="WebSocketFrame"/>, and every frame the actor posts to its
/// <see cref="WebSocketOutbox"/> is written to the socket, in order. The socket closes cleanly —
/// the close frame carries the outbox's reason — when the actor closes the outbox (or stops:
/// <see cref="WebSocketConsumerActor"/> closes it then), when the client closes or goes away, or
/// when a client's message is too big; then the actor is stopped.
/// </summary>
public static class WebSocketBridge
{
    /// <summary>
    /// Runs the connection until the socket is closed; returns the close status and description
    /// the server sent. <paramref name="connection"/> is stopped before this returns.
    /// </summary>
    /// <param name="socket">An accepted websocket (ASP.NET Core's <c>AcceptWebSocketAsync</c>).</param>
    /// <param name="connection">The actor serving it, which was given <paramref name="outbox"/>.</param>
    /// <param name="outbox">What the actor posts; the bridge writes it to the socket.</param>
    /// <param name="options">Limits; the defaults if null.</param>
    /// <param name="cancellationToken">The request's end (<c>HttpContext.RequestAborted</c>).</param>
    public static async Task<(WebSocketCloseStatus Status, string Description)> RunAsync(WebSocket socket, IActorRef connection,
        WebSocketOutbox outbox, WebSocketBridgeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(outbox);
        options ??= new WebSocketBridgeOptions();
        try
        {
            var sending = SendLoopAsync(socket, outbox, cancellationToken);
            var receiving = ReceiveLoopAsync(socket, connection, outbox, options.MaxFrameBytes, cancellationToken);
            await sending.ConfigureAwait(false);
            // The close frame is sent: give the client a moment to answer with its own.
            try
            {
                await receiving.WaitAsync(options.CloseHandshakeTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                socket.Abort();
                await receiving.ConfigureAwait(false);
            }
            return outbox.CloseReason;
        }
        finally
        {
            outbox.Close(WebSocketCloseStatus.NormalClosure, "closed");
            connection.Tell(PoisonPill.Instance);
        }
    }

    // Writes the outbox to the socket, then the close frame.
    private static async Task SendLoopAsync(WebSocket socket, WebSocketOutbox outbox, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var frame in outbox.Frames.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var (status, description) = outbox.CloseReason;
                await socket.CloseOutputAsync(status, description, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client went away; the receive loop ends too.
            outbox.Close(WebSocketCloseStatus.EndpointUnavailable, "connection lost");
        }
    }

    // Reads the client's messages until it closes; each whole one is told to the actor.
    private static async Task ReceiveLoopAsync(WebSocket socket, IActorRef connection, WebSocketOutbox outbox, int maxFrameBytes,
        CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxFrameBytes);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == maxFrameBytes)
                    {
                        outbox.Close(WebSocketCloseStatus.MessageTooBig, $"messages are at most {maxFrameBytes} bytes");
                        return;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(length, maxFrameBytes - length), cancellationToken).ConfigureAwait(false);
                    length += result.Count;
                } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    outbox.Close(WebSocketCloseStatus.NormalClosure, "closed by the client");
                    return;
                }
                connection.Tell(new WebSocketFrame(buffer.AsSpan(0, length).ToArray(), result.MessageType == WebSocketMessageType.Text));
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
