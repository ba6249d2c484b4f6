namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A message map cannot be turned into the requested CLR type: its <c>"type"</c> is another
/// message type, a required key is missing, or a value has the wrong kind or is out of range
/// (e.g. 300 for a <c>byte</c>). Thrown by <see cref="ChannelMessage.To{T}"/> and
/// <see cref="TypedChannelLayerExtensions.ReceiveAsync{T}"/>; the message names the key and the type.
/// </summary>
public class ChannelMessageFormatException : FormatException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public ChannelMessageFormatException() : base("The channel message does not have the expected format.") { }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public ChannelMessageFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public ChannelMessageFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception naming the offending key and the type being built.</summary>
    /// <param name="message">The description of the problem.</param>
    /// <param name="key">The offending key (the innermost map key), if any.</param>
    /// <param name="path">Where the key is, from the message map down, e.g. <c>["author"]["user_id"]</c>.</param>
    /// <param name="targetType">The type that could not be built (the one declaring the key's member).</param>
    /// <param name="sourceMessage">The whole message map that was being read.</param>
    /// <param name="innerException">The cause, if any (e.g. an <see cref="OverflowException"/>).</param>
    public ChannelMessageFormatException(
        string message,
        string? key,
        string? path,
        Type? targetType,
        IReadOnlyDictionary<string, object?>? sourceMessage,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
        Path = path;
        TargetType = targetType;
        SourceMessage = sourceMessage;
    }

    /// <summary>The offending key (the innermost map key), e.g. <c>"user_id"</c>; <c>null</c> when unknown.</summary>
    public string? Key { get; }

    /// <summary>The offending value's place in the message, e.g. <c>["items"][2]["user_id"]</c>; <c>null</c> when unknown.</summary>
    public string? Path { get; }

    /// <summary>The type that could not be built: the record declaring the offending member, or the requested type.</summary>
    public Type? TargetType { get; }

    /// <summary>
    /// The message map that could not be read, so that a message already taken from its queue
    /// (by <see cref="TypedChannelLayerExtensions.ReceiveAsync{T}"/>) is not lost; <c>null</c> when unknown.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? SourceMessage { get; }
}
