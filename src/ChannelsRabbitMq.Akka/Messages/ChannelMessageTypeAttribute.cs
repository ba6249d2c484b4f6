namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Names the <c>"type"</c> value of a typed channel message, e.g.
/// <c>[ChannelMessageType("chat.message")]</c>. Without it the name follows the convention of
/// <see cref="ChannelMessage.TypeOf{T}"/>: the CLR type name split into lower-case words joined
/// by <c>'.'</c> (<c>ChatMessage</c> → <c>"chat.message"</c>).
/// </summary>
/// <remarks>Not inherited: a derived type has its own name, by its own attribute or the convention.</remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class ChannelMessageTypeAttribute : Attribute
{
    /// <summary>Names the message type.</summary>
    /// <param name="type">The <c>"type"</c> value, e.g. <c>"chat.message"</c> (a Django Channels
    /// consumer dispatches it to its method <c>chat_message</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="type"/> is empty or white space.</exception>
    public ChannelMessageTypeAttribute(string type)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        Type = type;
    }

    /// <summary>The <c>"type"</c> value of the message.</summary>
    public string Type { get; }
}
