namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Settings of a <see cref="RabbitMqChannelLayer"/>. The defaults are those of the Python
/// <c>channels_rabbitmq</c> layer, so both can share a broker unchanged.
/// </summary>
public sealed class RabbitMqChannelLayerOptions
{
    /// <summary>
    /// AMQP URI; <c>amqps://</c> means TLS (default port 5671). Several URIs separated by commas
    /// are tried in order on every connection attempt.
    /// </summary>
    public string Host { get; set; } = "amqp://guest:guest@127.0.0.1/asgi";

    /// <summary>Queue TTL: the minimum time a message waits in RabbitMQ before it may be dropped.</summary>
    public TimeSpan Expiry { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Prefetch: how many messages are held in memory unacknowledged.</summary>
    public int LocalCapacity { get; set; } = 100;

    /// <summary>Minimum time a received message waits in memory for a receiver before it is dropped; <c>null</c> means <see cref="Expiry"/>.</summary>
    public TimeSpan? LocalExpiry { get; set; }

    /// <summary>The queue's maximum length; beyond it a send to this layer's channels throws <see cref="ChannelFullException"/>.</summary>
    public int RemoteCapacity { get; set; } = 100;

    /// <summary>TLS settings, used with <c>amqps://</c> URIs.</summary>
    public RabbitMqTlsOptions? Tls { get; set; }

    /// <summary>The direct exchange used for groups.</summary>
    public string GroupsExchange { get; set; } = "groups";

    /// <summary>A fixed queue name (tests, debugging); by default <c>channels_</c> and 12 random letters.</summary>
    public string? QueueName { get; set; }

    /// <summary>Wait between connection attempts, which go on forever.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Time allowed for one connection attempt.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest encoded message, in bytes, this layer sends or accepts (default 16 MiB, the limit of
    /// RabbitMQ 4.x). A larger send throws <see cref="MessageTooLargeException"/>.
    /// </summary>
    public int MaxMessageSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// <c>true</c> keeps the Python original's behaviour: the queue is exclusive to the connection
    /// and vanishes with it, so every message waiting in it is lost on any connection blip.
    /// <c>false</c> (the default) lets the queue outlive a disconnect for
    /// <see cref="QueueGracePeriod"/> (<c>x-expires</c>); the layer re-attaches to it on reconnect
    /// and consumes it exclusively, so messages queued during a short blip are delivered after it.
    /// </summary>
    public bool ExclusiveQueue { get; set; }

    /// <summary>
    /// How long the queue survives without a consumer when <see cref="ExclusiveQueue"/> is false
    /// (<c>x-expires</c>); a clean close deletes it at once. Default 10 s.
    /// </summary>
    public TimeSpan QueueGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The effective local expiry.</summary>
    internal TimeSpan EffectiveLocalExpiry => LocalExpiry ?? Expiry;

    /// <summary>Throws <see cref="ArgumentException"/> when a setting is out of range.</summary>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("Host must be an AMQP URI.", nameof(Host));
        Transport.AmqpUris.Parse(Host); // throws a redacted ArgumentException
        if (Expiry <= TimeSpan.Zero) throw new ArgumentException("Expiry must be positive.", nameof(Expiry));
        if (LocalCapacity < 1 || LocalCapacity > ushort.MaxValue) throw new ArgumentException("LocalCapacity must be between 1 and 65535.", nameof(LocalCapacity));
        if (LocalExpiry is { } le && le <= TimeSpan.Zero) throw new ArgumentException("LocalExpiry must be positive.", nameof(LocalExpiry));
        if (RemoteCapacity < 1) throw new ArgumentException("RemoteCapacity must be at least 1.", nameof(RemoteCapacity));
        if (string.IsNullOrEmpty(GroupsExchange)) throw new ArgumentException("GroupsExchange must be a non-empty exchange name.", nameof(GroupsExchange));
        if (ReconnectDelay < TimeSpan.Zero) throw new ArgumentException("ReconnectDelay must not be negative.", nameof(ReconnectDelay));
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException("ConnectTimeout must be positive.", nameof(ConnectTimeout));
        if (QueueGracePeriod < TimeSpan.FromSeconds(1) && !ExclusiveQueue)
            throw new ArgumentException("QueueGracePeriod must be at least 1 second.", nameof(QueueGracePeriod));
        if (MaxMessageSize < 1024) throw new ArgumentException("MaxMessageSize must be at least 1024 bytes.", nameof(MaxMessageSize));
        if (QueueName is { } q && !Wire.Names.IsValidQueueName(q))
            throw new ArgumentException($"QueueName '{q}' is not a valid queue name (letters, digits, '-', '_' and '.', fewer than 100 characters).", nameof(QueueName));
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"RabbitMqChannelLayerOptions {{ Host = {Transport.AmqpUris.Redact(Host)}, Expiry = {Expiry}, LocalCapacity = {LocalCapacity}, " +
        $"LocalExpiry = {LocalExpiry}, RemoteCapacity = {RemoteCapacity}, GroupsExchange = {GroupsExchange}, QueueName = {QueueName}, " +
        $"ReconnectDelay = {ReconnectDelay}, ConnectTimeout = {ConnectTimeout}, ExclusiveQueue = {ExclusiveQueue}, QueueGracePeriod = {QueueGracePeriod}, MaxMessageSize = {MaxMessageSize}, Tls = {Tls} }}";
}
