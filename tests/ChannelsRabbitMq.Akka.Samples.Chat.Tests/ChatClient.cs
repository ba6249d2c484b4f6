using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>A websocket client of a chat server, as the page is: <c>/ws?room=…&amp;user=…</c>.</summary>
public sealed class ChatClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    private ChatClient()
    {
    }

    /// <summary>The close status the server sent, once it closed.</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>The close description the server sent.</summary>
    public string? CloseDescription => _socket.CloseStatusDescription;

    /// <summary>Connects to <paramref name="server"/> and waits for the <c>joined</c> frame.</summary>
    public static async Task<ChatClient> JoinAsync(ChatServer server, string room, string user)
    {
        var client = new ChatClient();
        await client._socket.ConnectAsync(Url(server, room, user), Timeout());
        var joined = await client.ReceiveAsync();
        if (joined.GetProperty("type").GetString() != "joined")
            throw new InvalidOperationException($"Expected a joined frame, got {joined}");
        return client;
    }

    /// <summary>The websocket address of a room on <paramref name="server"/>.</summary>
    public static Uri Url(ChatServer server, string room, string user) =>
        new UriBuilder(new Uri(server.Url, $"ws?room={Uri.EscapeDataString(room)}&user={Uri.EscapeDataString(user)}")) { Scheme = "ws" }.Uri;

    /// <summary>Sends <c>{"text": …}</c>.</summary>
    public Task SayAsync(string text) =>
        _socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { text }), WebSocketMessageType.Text, true, Timeout());

    /// <summary>Sends a raw text frame.</summary>
    public Task SendRawAsync(string frame) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, Timeout());

    /// <summary>The next frame; fails after <see cref="Eventually.Timeout"/>, or when the server closes.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        var frame = await ReceiveFrameAsync() ?? throw new WebSocketException($"The server closed the connection: {CloseStatus} {CloseDescription}");
        return frame;
    }

    /// <summary>The next frame, or null once the server has closed the connection (its close status is then set).</summary>
    public async Task<JsonElement?> ReceiveFrameAsync()
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await _socket.ReceiveAsync(buffer.AsMemory(length), Timeout());
            length += result.Count;
        } while (!result.EndOfMessage);
        if (result.MessageType == WebSocketMessageType.Close)
        {
            // Complete the closing handshake, as a browser does.
            if (_socket.State == WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", Timeout());
            return null;
        }
        using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
        return document.RootElement.Clone();
    }

    /// <summary>Frames until one of type <c>message</c> with this text; returns it.</summary>
    public async Task<JsonElement> ReceiveMessageAsync(string text)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            if (frame.GetProperty("type").GetString() == "message" && frame.GetProperty("text").GetString() == text)
                return frame;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "test done", Timeout());
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
        _socket.Dispose();
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(Eventually.Timeout).Token;
}
