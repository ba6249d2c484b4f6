using System.Text.Json.Serialization;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

// Message types used by the specs. Their names matter: the naming convention derives "type" from them.

public sealed record ChatMessage(string Text, int UserId);

public sealed record UserJoined(string UserName);

public sealed record HTTPRequestReceived(string Path);

public sealed record Http2Frame(int StreamId);

public sealed record Envelope<T>(T Body);

[ChannelMessageType("chat.message")]
public sealed record Shout(string Text);

public sealed record Renamed([property: JsonPropertyName("msg")] string Text, int UserId);

public sealed record WithIgnored(string Text, [property: JsonIgnore] string? Secret = null);

public sealed class WithIgnoredProperty
{
    public string Text { get; init; } = "";

    [JsonIgnore]
    public string Secret { get; set; } = "unset";
}

public sealed record WithTypeProperty(string Type, string Text);

public sealed record WithClashingKeys(int UserId, [property: JsonPropertyName("user_id")] int Other);

public sealed record Author(int Id, string Name);

public sealed record Post(string Title, Author Author);

public sealed record Review(string Title, IReadOnlyList<Author> Reviewers);

public sealed record Tagged(int Count, List<string> Tags);

public sealed record Sized(byte Level, short Delta);

public sealed record Optional(string Text, string? Note, int Priority = 3, int? Limit = null);

public sealed class ProfileUpdated
{
    public int UserId { get; init; }

    public string DisplayName { get; init; } = "";

    public string? Bio { get; set; }

    public List<string> Tags { get; init; } = [];
}

public sealed class WithRequired
{
    public required string Name { get; init; }

    public int Age { get; init; }
}

public readonly record struct Point(int X, int Y);

public enum Mood
{
    Happy,
    DarkBlue,
}

public sealed record Scalars(
    Mood Mood,
    Guid Id,
    DateTime At,
    DateTimeOffset AtOffset,
    DateOnly Day,
    TimeOnly Time,
    TimeSpan Elapsed,
    decimal Price,
    float Ratio,
    char Grade,
    int? Maybe);

public sealed record WithBytes(byte[] Data);

public sealed record WithMood(Mood Mood);

public sealed record WithTimestamp(DateTime At);

public sealed record WithUri(Uri Link);

public sealed class Node
{
    public string Name { get; set; } = "";

    public Node? Next { get; set; }
}

public sealed record Ping;

public sealed record WithMap(IReadOnlyDictionary<string, object?> Extra, Dictionary<string, int> Counts);

public struct Counter
{
    public int Value { get; set; }

    public string? Label { get; set; }
}

/// <summary>The example of docs/typed-messages.md.</summary>
public sealed record DocsChatMessage(
    string Text,
    int UserId,
    Author Author,
    IReadOnlyList<string> Tags,
    Mood Mood,
    Guid MessageId,
    DateTimeOffset SentAt,
    [property: JsonPropertyName("html")] string? RenderedText = null,
    [property: JsonIgnore] string? LocalNote = null);
