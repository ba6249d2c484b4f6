using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// What a room's group carries: one line of chat. On the wire it is the map
/// <c>{"type": "chat.message", "room": …, "user": …, "text": …, "server": …, "sent_at": …}</c>,
/// which a Django Channels consumer would handle in <c>chat_message(self, event)</c>.
/// </summary>
/// <param name="Room">The room it was said in.</param>
/// <param name="User">Who said it (a name the page chose, or <c>http</c> for the HTTP endpoint).</param>
/// <param name="Text">The text.</param>
/// <param name="Server">The server that received it from its author (its <see cref="ServerIdentity.Name"/>).</param>
/// <param name="SentAt">When that server received it.</param>
[ChannelMessageType("chat.message")]
public sealed record ChatMessage(string Room, string User, string Text, string Server, DateTimeOffset SentAt);

/// <summary>Room and user names, and the group of a room.</summary>
public static class Rooms
{
    /// <summary>The longest text accepted in one message.</summary>
    public const int MaxTextLength = 2000;

    /// <summary>The longest room or user name.</summary>
    public const int MaxNameLength = 40;

    /// <summary>The room a page joins when its address names none.</summary>
    public const string DefaultRoom = "lobby";

    /// <summary>The channel-layer group of a room: <c>room.{room}</c>.</summary>
    public static string Group(string room) => "room." + room;

    /// <summary>Room names: 1 to 40 ASCII letters, digits, <c>-</c> or <c>_</c> (so the group name is valid).</summary>
    public static bool IsValidRoom(string? room) => IsName(room);

    /// <summary>User names: as room names.</summary>
    public static bool IsValidUser(string? user) => IsName(user);

    /// <summary>Why <paramref name="text"/> cannot be sent, or null when it can.</summary>
    public static string? TextProblem(string? text) => text switch
    {
        null => "\"text\" is missing",
        _ when string.IsNullOrWhiteSpace(text) => "\"text\" is empty",
        { Length: > MaxTextLength } => $"\"text\" is longer than {MaxTextLength} characters",
        _ => null,
    };

    private static bool IsName(string? name) =>
        name is { Length: > 0 and <= MaxNameLength } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>The JSON frames the server sends on a websocket, and the one a page sends.</summary>
public static class Frames
{
    /// <summary>camelCase JSON, as a browser expects.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary><c>{"type":"joined","room":…,"user":…,"server":…}</c>: the connection is in its room's group.</summary>
    public static byte[] Joined(string room, string user, ServerIdentity server) =>
        JsonSerializer.SerializeToUtf8Bytes(new { type = "joined", room, user, server = server.Name, port = server.Port }, Json);

    /// <summary><c>{"type":"message","room":…,"user":…,"text":…,"server":…,"sentAt":…}</c>: a message of the room.</summary>
    public static byte[] Message(ChatMessage message) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            type = "message",
            room = message.Room,
            user = message.User,
            text = message.Text,
            server = message.Server,
            sentAt = message.SentAt,
        }, Json);

    /// <summary><c>{"type":"error","error":…}</c>: something the page sent was not accepted.</summary>
    public static byte[] Error(string error) =>
        JsonSerializer.SerializeToUtf8Bytes(new { type = "error", error }, Json);
}

/// <summary>What a page sends on its websocket, and the body of <c>POST /rooms/{room}/messages</c>: <c>{"text": "…"}</c>.</summary>
/// <param name="Text">The text to say.</param>
/// <param name="User">Who says it (HTTP only; optional, default <c>http</c>).</param>
public sealed record PostedMessage(string? Text, string? User = null);
