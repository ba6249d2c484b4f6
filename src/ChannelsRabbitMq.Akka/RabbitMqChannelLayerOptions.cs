namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Settings of a <see cref="RabbitMqChannelLayer"/>. The defaults are those of the Python
/// <c>channels_rabbitmq</c> layer, so both can share a broker unchanged.
/// </summary>
public sealed class RabbitMqChannelLayerOptions
{
    /// <summary>
    /// AMQP URI; <c>amqps://</c> means TLS (default port 5671). Several URIs separated by commas
    /// (the nodes of one cluster) are all tried on every connection attempt, in order, starting
    /// after the one whose connection was just lost.
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

    /// <summary>
    /// The base wait between connection attempts, which go on forever: the first wait after a
    /// failure; each further consecutive failure doubles it, up to <see cref="MaxReconnectDelay"/>.
    /// A lost connection is retried at once (on the next host first, when <see cref="Host"/> lists
    /// several).
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Time allowed for one connection attempt.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest encoded message, in bytes, this layer sends or accepts (default 16 MiB, the limit of
    /// RabbitMQ 4.x). A larger send throws <see cref="MessageTooLargeException"/>.
    /// </summary>
    public int MaxMessageSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// How the layer's queue lives on the broker; <see cref="Akka.QueueMode.Auto"/> by default. See
    /// <see cref="Akka.QueueMode"/> for the trade-off.
    /// </summary>
    public QueueMode QueueMode { get; set; } = QueueMode.Auto;

    /// <summary>
    /// How long a <see cref="Akka.QueueMode.Durable"/> queue survives without a consumer
    /// (<c>x-expires</c>); a clean close deletes it at once. Default 10 s.
    /// </summary>
    public TimeSpan QueueGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The upper bound of the wait between connection attempts: consecutive failures double the
    /// wait from <see cref="ReconnectDelay"/> up to this, each wait spread by ±20 % so that many
    /// processes do not retry in step. Default 10 s: a broker back from an outage is rejoined
    /// within 10 s (well inside the health check's 30 s before Unhealthy), while a fleet of N
    /// processes costs a dead broker about N/10 connection attempts per second. A
    /// <see cref="ReconnectDelay"/> above it is used as is, without growing.
    /// </summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The queue mode in use: <see cref="QueueMode"/>, with <see cref="Akka.QueueMode.Auto"/>
    /// resolved from the number of URIs in <see cref="Host"/>.
    /// </summary>
    internal QueueMode EffectiveQueueMode => QueueMode switch
    {
        QueueMode.Auto => Transport.AmqpUris.Parse(Host).Count > 1 ? QueueMode.Exclusive : QueueMode.Durable,
        var mode => mode,
    };

    /// <summary>How often a connection failure that keeps recurring is logged again at Warning (tests shorten it).</summary>
    internal TimeSpan ConnectFailureReminder { get; set; } = TimeSpan.FromSeconds(60);

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
        if (!Enum.IsDefined(QueueMode)) throw new ArgumentException($"QueueMode {(int)QueueMode} is not Auto, Durable or Exclusive.", nameof(QueueMode));
        if (MaxReconnectDelay < TimeSpan.Zero) throw new ArgumentException("MaxReconnectDelay must not be negative.", nameof(MaxReconnectDelay));
        if (QueueGracePeriod < TimeSpan.FromSeconds(1) && QueueMode != QueueMode.Exclusive)
            throw new ArgumentException("QueueGracePeriod must be at least 1 second.", nameof(QueueGracePeriod));
        if (MaxMessageSize < 1024) throw new ArgumentException("MaxMessageSize must be at least 1024 bytes.", nameof(MaxMessageSize));
        if (QueueName is { } q && !Wire.Names.IsValidQueueName(q))
            throw new ArgumentException($"QueueName '{q}' is not a valid queue name (letters, digits, '-', '_' and '.', fewer than 100 characters).", nameof(QueueName));
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"RabbitMqChannelLayerOptions {{ Host = {Transport.AmqpUris.Redact(Host)}, Expiry = {Expiry}, LocalCapacity = {LocalCapacity}, " +
        $"LocalExpiry = {LocalExpiry}, RemoteCapacity = {RemoteCapacity}, GroupsExchange = {GroupsExchange}, QueueName = {QueueName}, " +
        $"ReconnectDelay = {ReconnectDelay}, MaxReconnectDelay = {MaxReconnectDelay}, ConnectTimeout = {ConnectTimeout}, QueueMode = {QueueMode}, QueueGracePeriod = {QueueGracePeriod}, MaxMessageSize = {MaxMessageSize}, Tls = {Tls} }}";
}

/// <summary>How the layer's queue lives on the broker (<see cref="RabbitMqChannelLayerOptions.QueueMode"/>).</summary>
/// <remarks>
/// RabbitMQ 4.3 and later refuse, by default, a queue that is neither durable nor exclusive
/// (deprecated feature <c>transient_nonexcl_queues</c>); both modes here are accepted by
/// RabbitMQ 3.x and 4.x without broker settings.
/// </remarks>
public enum QueueMode
{
    /// <summary>
    /// <see cref="Durable"/> when <see cref="RabbitMqChannelLayerOptions.Host"/> names one URI,
    /// <see cref="Exclusive"/> when it names several (a cluster, where failing over to another
    /// node matters more than surviving a blip). The default.
    /// </summary>
    Auto,

    /// <summary>
    /// A durable queue with <c>x-expires</c> = <see cref="RabbitMqChannelLayerOptions.QueueGracePeriod"/>,
    /// consumed exclusively; its messages are not persistent. It survives a connection blip (what
    /// was sent to the layer meanwhile waits in it) and a broker restart (empty: transient
    /// messages do not survive). On a cluster it lives on one node and is unavailable while that
    /// node is down.
    /// </summary>
    Durable,

    /// <summary>
    /// The Python original's queue: exclusive to the connection, deleted with it (every message
    /// waiting in it is lost on any blip). It is declared again on whichever node the next
    /// connection reaches, so it fails over at once.
    /// </summary>
    Exclusive,
}
