namespace ChannelsRabbitMq.Akka;

/// <summary>The destination channel's queue is at its capacity (<c>RemoteCapacity</c>): the broker refused the message.</summary>
public class ChannelFullException : Exception
{
    /// <summary>Creates the exception with the message "The channel is full.".</summary>
    public ChannelFullException() : base("The channel is full.") { }
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    /// <param name="message">What happened.</param>
    public ChannelFullException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public ChannelFullException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The layer was closed; no call can be made on it any more.</summary>
public class ChannelLayerClosedException : Exception
{
    /// <summary>Creates the exception with the message "The channel layer is closed.".</summary>
    public ChannelLayerClosedException() : base("The channel layer is closed.") { }
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    /// <param name="message">What happened.</param>
    public ChannelLayerClosedException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public ChannelLayerClosedException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The encoded message is larger than the layer's <c>MaxMessageSize</c>; nothing was published.</summary>
public class MessageTooLargeException : Exception
{
    /// <summary>Creates the exception with the message "The message is too large.".</summary>
    public MessageTooLargeException() : base("The message is too large.") { }
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    /// <param name="message">What happened.</param>
    public MessageTooLargeException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public MessageTooLargeException(string message, Exception innerException) : base(message, innerException) { }
}
