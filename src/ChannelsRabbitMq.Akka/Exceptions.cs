namespace ChannelsRabbitMq.Akka;

/// <summary>The destination channel's queue is at its capacity (<c>RemoteCapacity</c>): the broker refused the message.</summary>
public class ChannelFullException : Exception
{
    public ChannelFullException() : base("The channel is full.") { }
    public ChannelFullException(string message) : base(message) { }
    public ChannelFullException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The layer was closed; no call can be made on it any more.</summary>
public class ChannelLayerClosedException : Exception
{
    public ChannelLayerClosedException() : base("The channel layer is closed.") { }
    public ChannelLayerClosedException(string message) : base(message) { }
    public ChannelLayerClosedException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The encoded message is larger than the layer's <c>MaxMessageSize</c>; nothing was published.</summary>
public class MessageTooLargeException : Exception
{
    public MessageTooLargeException() : base("The message is too large.") { }
    public MessageTooLargeException(string message) : base(message) { }
    public MessageTooLargeException(string message, Exception innerException) : base(message, innerException) { }
}
