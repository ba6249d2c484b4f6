namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>
/// The narrow seam between the connection actor and RabbitMQ: the few AMQP operations the layer
/// uses. <see cref="RabbitMqTransport"/> implements it with RabbitMQ.Client 7; actor specs use a fake.
/// </summary>
internal interface IAmqpTransport
{
    /// <summary>
    /// Opens one connection (trying every configured endpoint in order). Throws on failure; the
    /// caller logs and retries. <paramref name="handlers"/> receive the deliveries and the loss
    /// of the connection.
    /// </summary>
    Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken);
}

/// <summary>Called by a session from the client library's threads.</summary>
/// <param name="OnDelivery">
/// One delivery from the consumer, in order. The body memory belongs to the client library and is
/// valid only during the call: decode or copy it before returning.
/// </param>
/// <param name="OnDisconnected">
/// Called once when the connection is lost or closed by the broker, with a reason for the log.
/// Not called for a close the layer asked for.
/// </param>
internal sealed record AmqpSessionHandlers(
    Action<IAmqpSession, InboundDelivery> OnDelivery,
    Action<IAmqpSession, string> OnDisconnected);

/// <summary>One delivery as the layer needs it.</summary>
/// <param name="DeliveryTag">The tag to ack on the delivering session.</param>
/// <param name="Body">The body; valid only during the handler call.</param>
/// <param name="Redelivered">The broker delivered it before (to a connection that did not ack it).</param>
/// <param name="Trace">W3C trace context from the AMQP headers, if the sender set one.</param>
internal readonly record struct InboundDelivery(ulong DeliveryTag, ReadOnlyMemory<byte> Body, bool Redelivered, TraceHeaders Trace);

/// <summary>
/// The trace context of a message as AMQP headers: outbound, the fields the configured
/// <see cref="System.Diagnostics.DistributedContextPropagator"/> wrote (by default W3C
/// <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c>); inbound, the delivery's headers as
/// they arrived (values are strings or UTF-8 bytes), from which the propagator reads its fields.
/// </summary>
internal readonly record struct TraceHeaders(IDictionary<string, object?>? Fields)
{
    /// <summary>A W3C trace context (for specs and peers that write only these two headers).</summary>
    public TraceHeaders(string traceParent, string? traceState)
        : this(traceState is null
            ? new Dictionary<string, object?> { ["traceparent"] = traceParent }
            : new Dictionary<string, object?> { ["traceparent"] = traceParent, ["tracestate"] = traceState })
    {
    }

    public static TraceHeaders None => default;

    public bool IsEmpty => Fields is null || Fields.Count == 0;

    public string? TraceParent => Get("traceparent");

    public string? TraceState => Get("tracestate");

    /// <summary>A header's value as a string (AMQP long strings arrive as bytes); null if absent.</summary>
    public string? Get(string name) =>
        Fields is not null && Fields.TryGetValue(name, out var value)
            ? value switch
            {
                byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
                string text => text,
                _ => null,
            }
            : null;
}

/// <summary>The layer's queue as declared on the broker.</summary>
/// <param name="Name">Queue name.</param>
/// <param name="MaxLength"><c>x-max-length</c>, with <c>x-overflow=reject-publish</c>.</param>
/// <param name="MessageTtl"><c>x-message-ttl</c>.</param>
/// <param name="Exclusive">Exclusive to the connection (deleted with it).</param>
/// <param name="Expires"><c>x-expires</c> for a non-exclusive queue; null for none.</param>
/// <param name="Durable">Durable (the queue's record survives a broker restart; its messages are still transient).</param>
internal sealed record QueueDeclaration(string Name, int MaxLength, TimeSpan MessageTtl, bool Exclusive, TimeSpan? Expires, bool Durable = false);

/// <summary>
/// One open AMQP connection with the channels the layer needs. Publishing may be called
/// concurrently; topology operations are called one at a time.
/// </summary>
internal interface IAmqpSession : IAsyncDisposable
{
    /// <summary>The client library's connection, for users who publish to their own queues; null in fakes.</summary>
    RabbitMQ.Client.IConnection? Connection { get; }

    /// <summary>True while the connection is open.</summary>
    bool IsOpen { get; }

    /// <summary>
    /// Passive declare of <paramref name="queue"/>: true when a queue of that name exists,
    /// including one held exclusively by another connection (405 RESOURCE_LOCKED).
    /// </summary>
    Task<bool> QueueExistsAsync(string queue, CancellationToken cancellationToken);

    /// <summary>Declares the groups exchange: direct, not durable, not auto-deleted.</summary>
    Task DeclareExchangeAsync(string exchange, CancellationToken cancellationToken);

    /// <summary>Declares the layer's queue.</summary>
    Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken cancellationToken);

    /// <summary>Binds <paramref name="queue"/> to <paramref name="exchange"/> with a routing key.</summary>
    Task BindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken);

    /// <summary>Removes a binding; removing one that does not exist succeeds.</summary>
    Task UnbindAsync(string queue, string exchange, string routingKey, CancellationToken cancellationToken);

    /// <summary>Starts consuming with manual acks and <c>basic.qos(prefetch)</c>.</summary>
    Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes with publisher confirms. Completes on the broker's ack; throws
    /// <see cref="PublishRejectedException"/> on a nack (queue full),
    /// <see cref="PublishNotSentException"/> when the session was already closing and the message
    /// was not handed to the connection (nothing reached the broker), and
    /// <see cref="ConnectionLostException"/> when the connection closes after the message was
    /// handed over and before the confirm (the broker may have it).
    /// </summary>
    Task PublishAsync(string exchange, string routingKey, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken cancellationToken);

    /// <summary>Acknowledges a delivery of this session; does nothing once the session is closed.</summary>
    void Ack(ulong deliveryTag);

    /// <summary>Deletes a queue (used by a clean close of a non-exclusive queue).</summary>
    Task DeleteQueueAsync(string queue, CancellationToken cancellationToken);

    /// <summary>Closes the connection without raising <see cref="AmqpSessionHandlers.OnDisconnected"/>.</summary>
    Task CloseAsync();
}

/// <summary>The broker refused a published message (a nack: the queue is full).</summary>
internal sealed class PublishRejectedException : Exception
{
    public PublishRejectedException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The session was closed or closing before the publish was handed to the connection: no byte of
/// it left, so it may be published again on another session without risking a duplicate.
/// </summary>
internal sealed class PublishNotSentException : Exception
{
    public PublishNotSentException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The connection closed before the operation completed.</summary>
internal sealed class ConnectionLostException : Exception
{
    public ConnectionLostException(string message, Exception? inner = null) : base(message, inner) { }
}
