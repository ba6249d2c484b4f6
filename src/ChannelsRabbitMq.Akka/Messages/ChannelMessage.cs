namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Typed channel messages: your own records (or classes, or structs) mapped to and from the
/// message maps the layer sends, the same msgpack map a Python peer sees, e.g.
/// <c>{"type": "chat.message", "text": "hi", "user_id": 7}</c> for
/// <c>record ChatMessage(string Text, int UserId)</c>. See <c>docs/typed-messages.md</c>.
/// </summary>
/// <remarks>
/// <para><b>The <c>"type"</c> value</b> is the <see cref="ChannelMessageTypeAttribute"/>'s, or by
/// convention the CLR type name (a trailing <c>Message</c> kept, a generic arity suffix dropped)
/// split into lower-case words joined by <c>'.'</c>: <c>ChatMessage</c> → <c>"chat.message"</c>,
/// <c>UserJoined</c> → <c>"user.joined"</c>, <c>HTTPRequestReceived</c> →
/// <c>"http.request.received"</c>, <c>Http2Frame</c> → <c>"http2.frame"</c>. Words split as
/// System.Text.Json's <c>JsonNamingPolicy.SnakeCaseLower</c> splits them.</para>
/// <para><b>Keys</b> are the public instance properties' names in snake_case
/// (<c>JsonNamingPolicy.SnakeCaseLower</c>: <c>UserId</c> → <c>"user_id"</c>), or the
/// <c>[JsonPropertyName]</c>'s name; <c>[JsonIgnore]</c> skips a property (its
/// <c>WhenWritingNull</c> / <c>WhenWritingDefault</c> conditions leave the key out when the
/// value is null / default). A property whose key would be <c>"type"</c> is an error (the key
/// holds the message type), as are two properties with the same key. Nested records are maps
/// of their properties, without a <c>"type"</c>.</para>
/// <para><b>Values</b>: null, string, bool, integers, <c>float</c>, <c>double</c> and
/// <c>byte[]</c> as they are; <c>decimal</c> as a double; <c>char</c> as a one-character string;
/// enums as their name (<c>Color.DarkRed</c> → <c>"DarkRed"</c>; read back from a name, ignoring
/// case, or from an integer); <c>Guid</c> as <c>"D"</c> (<c>"0f8fad5b-d9cb-469f-a165-70867728950e"</c>);
/// <c>DateTime</c> and <c>DateTimeOffset</c> as ISO 8601 round-trip strings (<c>"O"</c>:
/// <c>"2024-05-01T12:00:00.0000000Z"</c>, <c>"…+02:00"</c>; a time with an offset is read back
/// into a <c>DateTime</c> as UTC, one without as <c>Unspecified</c>; into a
/// <c>DateTimeOffset</c>, one without an offset as UTC); <c>DateOnly</c> as <c>"yyyy-MM-dd"</c>;
/// <c>TimeOnly</c> as <c>"HH:mm:ss.fffffff"</c>; <c>TimeSpan</c> as seconds (a double, as
/// Python's <c>timedelta.total_seconds()</c>); arrays, lists and other sequences as lists; maps
/// with string keys as maps; records as maps. Anything else (other framework types, delegates,
/// maps with other keys) is refused.</para>
/// <para>Per-type accessors (compiled property getters and setters, the constructor) are cached,
/// so after the first use mapping allocates the map, its boxes and little else. Thread-safe.</para>
/// </remarks>
public static class ChannelMessage
{
    /// <summary>The key of the message type name, <c>"type"</c>, as Django Channels dispatches on it.</summary>
    public const string TypeKey = "type";

    /// <summary>
    /// Maps <paramref name="value"/> to a message map: a record's public properties plus its
    /// <c>"type"</c> (from its runtime type); a dictionary with string keys entry by entry (values
    /// mapped as in a record, no <c>"type"</c> added).
    /// </summary>
    /// <typeparam name="T">The value's type; the mapping uses its runtime type.</typeparam>
    /// <param name="value">A record, class or struct, or a dictionary with string keys.</param>
    /// <returns>A new map, ready for <see cref="IChannelLayer.SendAsync"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    /// <exception cref="ArgumentException">The value is not a map (a sequence, a string, a number, …);
    /// its type cannot be a message (a property keyed <c>"type"</c>, duplicate keys, an anonymous
    /// type); or it holds a value that cannot be mapped (the message names where).</exception>
    public static IReadOnlyDictionary<string, object?> From<T>(T value)
    {
        if (value is null) throw new ArgumentNullException(nameof(value));
        return MessageWriter.WriteMessage(value, nameof(value));
    }

    /// <summary>
    /// Maps a message map to <typeparamref name="T"/>: a record is created through its constructor
    /// (<c>[JsonConstructor]</c>; else a class's public parameterless constructor, or its only
    /// public one, such as a positional record's primary constructor; a struct's only public
    /// constructor, or its default one), each parameter read from the key of the property it
    /// initialises (same name, ignoring case) or from its own name in snake_case, then the other
    /// settable (or <c>init</c>) properties whose keys are present are set. Values are converted:
    /// integers narrowed with an overflow check, doubles to <c>float</c> / <c>decimal</c>, strings
    /// to enums, <c>Guid</c>s and dates, lists to <c>T[]</c> / <c>List&lt;T&gt;</c> / its
    /// interfaces, maps to nested records or <c>Dictionary&lt;string, T&gt;</c>. Keys without a
    /// member are ignored.
    /// </summary>
    /// <typeparam name="T">A record, class or struct whose <c>"type"</c> must be the message's; or a
    /// dictionary type with string keys (no <c>"type"</c> check; <c>IReadOnlyDictionary&lt;string, object?&gt;</c>
    /// returns the message itself).</typeparam>
    /// <param name="message">A message map, as <see cref="IChannelLayer.ReceiveAsync"/> returns it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    /// <exception cref="ChannelMessageFormatException">The message's <c>"type"</c> is missing or another
    /// one; a key is missing for a constructor parameter that is neither nullable nor optional,
    /// or for a <c>required</c> property; a value is null for a non-nullable member, of the wrong
    /// kind, or out of range; or the constructor threw. The exception names the key and the type.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be created from a map
    /// (no usable constructor, an abstract type, a scalar or a sequence type, …).</exception>
    public static T To<T>(IReadOnlyDictionary<string, object?> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return MessageReader.ReadMessage<T>(message);
    }

    /// <summary>
    /// The <c>"type"</c> value of <typeparamref name="T"/>: its <see cref="ChannelMessageTypeAttribute"/>'s,
    /// or the naming convention's (see <see cref="ChannelMessage"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be a message (not a record, class or struct;
    /// a property keyed <c>"type"</c>; duplicate keys; an anonymous type).</exception>
    public static string TypeOf<T>() => TypeOf(typeof(T));

    /// <inheritdoc cref="TypeOf{T}"/>
    /// <param name="type">The message type.</param>
    public static string TypeOf(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var model = TypeModel.For(type);
        if (model.Kind != ValueKind.Record)
            throw new ArgumentException(
                model.Kind == ValueKind.Unsupported && model.ReadProblem is { } unsupported
                    ? $"{TypeNames.Describe(type)} has no message type name: {unsupported}."
                    : $"{TypeNames.Describe(type)} has no message type name: only a record, class or struct is a typed message.",
                nameof(type));
        var shape = model.Shape!;
        if ((shape.DefinitionError ?? shape.MessageError) is { } problem)
            throw new ArgumentException($"{TypeNames.Describe(type)} cannot be a channel message: {problem}.", nameof(type));
        return shape.TypeName!;
    }

    /// <summary>Whether the message's <c>"type"</c> is <typeparamref name="T"/>'s (<see cref="TypeOf{T}"/>), ordinal comparison.</summary>
    /// <param name="message">A message map.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be a message (see <see cref="TypeOf{T}"/>).</exception>
    public static bool Is<T>(IReadOnlyDictionary<string, object?> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.TryGetValue(TypeKey, out var type) && type is string name && name == TypeOf<T>();
    }
}
