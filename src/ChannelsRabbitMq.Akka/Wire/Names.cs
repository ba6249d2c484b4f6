using System.Text.RegularExpressions;

namespace ChannelsRabbitMq.Akka.Wire;

/// <summary>
/// Channel, group and queue name rules (Django Channels' <c>BaseChannelLayer</c>) and the
/// random names channels_rabbitmq makes.
/// </summary>
/// <remarks>
/// The patterns are Django Channels' own, with two deliberate differences from Python's
/// <c>re.match(...$)</c>: the anchor is <c>\z</c>, so a trailing newline is refused (Python's
/// <c>$</c> lets <c>"room\n"</c> through); and .NET's <c>\d</c>/<c>\w</c>, like Python 3's, are
/// Unicode-aware, so the accepted sets match Python's closely but not to the last code point
/// (e.g. combining marks, and characters outside the BMP which .NET sees as two surrogates).
/// Lengths are counted in UTF-16 code units, which equals Python's count for BMP text.
/// </remarks>
internal static partial class Names
{
    /// <summary>Django Channels' <c>MAX_NAME_LENGTH</c>: a name must be strictly shorter.</summary>
    public const int MaxNameLength = 100;

    /// <summary>Length of the random part of queue and channel names (as channels_rabbitmq).</summary>
    public const int RandomLength = 12;

    /// <summary>The prefix of generated queue names, as channels_rabbitmq: <c>channels_</c>.</summary>
    public const string QueuePrefix = "channels_";

    // Shown in messages when a huge name is refused: enough to recognise it, not a log flood.
    private const int MaxShownNameLength = 120;

    private static ReadOnlySpan<char> Letters => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    [GeneratedRegex(@"^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex ChannelRegex();

    [GeneratedRegex(@"^[a-zA-Z\d\-_.]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex GroupRegex();

    [GeneratedRegex(@"^[\d\w\-_.]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex LocalPartRegex();

    /// <summary>True when <paramref name="channel"/> is a valid Django Channels channel name.</summary>
    public static bool IsValidChannelName(string? channel) =>
        channel is { Length: > 0 and < MaxNameLength } && ChannelRegex().IsMatch(channel);

    /// <summary>True when <paramref name="group"/> is a valid Django Channels group name.</summary>
    public static bool IsValidGroupName(string? group) =>
        group is { Length: > 0 and < MaxNameLength } && GroupRegex().IsMatch(group);

    /// <summary>
    /// True when <paramref name="name"/> can be this layer's queue name: the part before <c>!</c>
    /// of its channels, so it follows the group rule (no <c>!</c>) and leaves room for a local part.
    /// </summary>
    public static bool IsValidQueueName(string? name) => IsValidGroupName(name);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="channel"/> is a valid channel name.</summary>
    public static void ValidateChannel(string channel, string paramName = "channel")
    {
        ArgumentNullException.ThrowIfNull(channel, paramName);
        if (!IsValidChannelName(channel))
            throw new ArgumentException(
                $"Channel name {Show(channel)} is not valid: a channel name must be 1 to {MaxNameLength - 1} characters, "
                + "ASCII letters, digits, hyphens, underscores or periods, optionally followed by '!' and a local part "
                + @"(pattern ^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$).",
                paramName);
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="group"/> is a valid group name.</summary>
    public static void ValidateGroup(string group, string paramName = "group")
    {
        ArgumentNullException.ThrowIfNull(group, paramName);
        if (!IsValidGroupName(group))
            throw new ArgumentException(
                $"Group name {Show(group)} is not valid: a group name must be 1 to {MaxNameLength - 1} characters, "
                + @"ASCII letters, digits, hyphens, underscores or periods (pattern ^[a-zA-Z\d\-_.]+$).",
                paramName);
    }

    /// <summary>
    /// True for a process-specific channel (<c>"{queue}!{local}"</c>). A channel without <c>!</c>
    /// is a Django Channels "normal channel", which this layer does not support.
    /// </summary>
    public static bool IsProcessSpecific(string channel) => channel.Contains('!');

    /// <summary>
    /// The RabbitMQ queue of a channel: the part before the first <c>!</c> (the whole name when
    /// there is none, as Python's <c>channel.split("!")[0]</c>).
    /// </summary>
    public static string QueueOf(string channel)
    {
        int bang = channel.IndexOf('!');
        return bang < 0 ? channel : channel[..bang];
    }

    /// <summary>A fresh queue name: <c>"channels_"</c> and 12 random ASCII letters, as channels_rabbitmq.</summary>
    public static string NewQueueName() =>
        string.Create(QueuePrefix.Length + RandomLength, 0, static (span, _) =>
        {
            QueuePrefix.AsSpan().CopyTo(span);
            FillRandomLetters(span[QueuePrefix.Length..]);
        });

    /// <summary>
    /// A fresh channel name on <paramref name="queue"/>: <c>"{queue}!{random}"</c> when
    /// <paramref name="prefix"/> is empty (exactly channels_rabbitmq 4.x, which ignores its
    /// prefix), otherwise <c>"{queue}!{prefix}.{random}"</c> (the dot is not doubled when the
    /// prefix already ends with one, like Django's <c>"specific."</c>). The random part is 12
    /// ASCII letters.
    /// </summary>
    /// <exception cref="ArgumentException">The queue name is not valid, the prefix holds a
    /// character a channel's local part may not, or the name would be 100 characters or more.</exception>
    public static string NewChannelName(string queue, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(prefix);
        if (!IsValidQueueName(queue))
            throw new ArgumentException($"Queue name {Show(queue)} is not valid for a channel name.", nameof(queue));
        if (!LocalPartRegex().IsMatch(prefix))
            throw new ArgumentException(
                $"Channel prefix {Show(prefix)} is not valid: it may hold only letters, digits, hyphens, underscores and periods.",
                nameof(prefix));

        bool dot = prefix.Length > 0 && !prefix.EndsWith('.');
        int length = queue.Length + 1 + prefix.Length + (dot ? 1 : 0) + RandomLength;
        if (length >= MaxNameLength)
            throw new ArgumentException(
                $"Channel prefix {Show(prefix)} is too long: with queue {queue} the channel name would be {length} characters "
                + $"(it must be shorter than {MaxNameLength}).",
                nameof(prefix));

        return string.Create(length, (queue, prefix, dot), static (span, s) =>
        {
            s.queue.AsSpan().CopyTo(span);
            int at = s.queue.Length;
            span[at++] = '!';
            s.prefix.AsSpan().CopyTo(span[at..]);
            at += s.prefix.Length;
            if (s.dot) span[at++] = '.';
            FillRandomLetters(span[at..]);
        });
    }

    // Random.Shared is thread-safe and fast. Like Python's `random`, it is not cryptographic:
    // channel names are addresses, not secrets (Django Channels treats them the same way).
    private static void FillRandomLetters(Span<char> destination) => Random.Shared.GetItems(Letters, destination);

    private static string Show(string name) =>
        name.Length <= MaxShownNameLength
            ? $"\"{name}\""
            : $"\"{name[..MaxShownNameLength]}…\" ({name.Length} characters)";
}
