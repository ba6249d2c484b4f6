namespace ChannelsRabbitMq.Akka.Wire;

/// <summary>
/// A decoded body: the message without its recipient key, and exactly one of
/// <see cref="Channel"/> (from <c>__asgi_channel__</c>) or <see cref="Group"/> (from
/// <c>__asgi_group__</c>) set. See <see cref="WireCodec.Decode(ReadOnlySpan{byte})"/> for the value types.
/// </summary>
internal sealed record DecodedMessage(IReadOnlyDictionary<string, object?> Message, string? Channel, string? Group);
