namespace ChannelsRabbitMq.Akka.Wire;

/// <summary>
/// A body from the queue is not a valid channels_rabbitmq message (a msgpack map of string
/// keys with exactly one of <c>__asgi_channel__</c> / <c>__asgi_group__</c>). The layer logs,
/// acks and drops such a delivery.
/// </summary>
internal sealed class MalformedMessageException : Exception
{
    public MalformedMessageException(string message) : base("Malformed message body: " + message) { }

    public MalformedMessageException(string message, Exception innerException)
        : base("Malformed message body: " + message, innerException) { }
}
