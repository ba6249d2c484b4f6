namespace ChannelsRabbitMq.Akka;

/// <summary>
/// One layer's counters and gauges: written by its actors (atomically), read by
/// <see cref="IActorChannelLayer.GetStatistics"/> and the meter from any thread.
/// </summary>
internal sealed class LayerCounters
{
    private long _sent;
    private long _received;
    private long _groupDeliveries;
    private long _channelFull;
    private long _expiredLocally;
    private long _droppedNoRecipient;
    private long _malformed;
    private long _duplicatesSuppressed;
    private long _lostWithConnection;
    private long _droppedSimulated;
    private long _reconnects;
    private long _disconnectedSinceUtcTicks = DateTimeOffset.UtcNow.UtcTicks;
    private volatile bool _connected;
    private volatile bool _closed;
    private int _localBacklog;
    private long _lastExpiryWarningMs = long.MinValue / 2;
    private long _lastBackPressureWarningMs = long.MinValue / 2;
    private volatile int _liveChannels;
    private volatile ConnectionError? _lastConnectionError;

    private sealed record ConnectionError(string Text, DateTimeOffset Since);
    private volatile IReadOnlyList<KeyValuePair<string, int>> _biggest = [];

    public LayerCounters(string queueName)
    {
        QueueName = queueName;
        Tag = new KeyValuePair<string, object?>(ChannelLayerTelemetry.QueueTag, queueName);
    }

    public string QueueName { get; }

    /// <summary>Set by the connection actor on its first connection (it outlives the actor's restarts).</summary>
    public bool EverConnected { get; set; }

    public KeyValuePair<string, object?> Tag { get; }

    public bool Connected => _connected;

    public int LocalBacklog => Volatile.Read(ref _localBacklog);

    public int LiveChannels => _liveChannels;

    public void MessageSent()
    {
        Interlocked.Increment(ref _sent);
        if (ChannelLayerTelemetry.Sent.Enabled) ChannelLayerTelemetry.Sent.Add(1, Tag, ChannelLayerTelemetry.SystemTag, ChannelLayerTelemetry.SendTag);
    }

    public void MessageReceived() => MessagesReceived(1);

    public void MessagesReceived(int count)
    {
        Interlocked.Add(ref _received, count);
        if (ChannelLayerTelemetry.Received.Enabled)
            ChannelLayerTelemetry.Received.Add(count, Tag, ChannelLayerTelemetry.SystemTag, ChannelLayerTelemetry.ReceiveTag);
    }

    /// <summary>A publish settled: how long from the publish to the broker's answer (<paramref name="errorType"/> if it failed).</summary>
    public void PublishSettled(long startedAt, string? errorType)
    {
        if (startedAt == 0 || !ChannelLayerTelemetry.OperationDuration.Enabled) return;
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
        if (errorType is null)
            ChannelLayerTelemetry.OperationDuration.Record(seconds, Tag, ChannelLayerTelemetry.SystemTag, ChannelLayerTelemetry.SendTag);
        else
            ChannelLayerTelemetry.OperationDuration.Record(seconds, Tag, ChannelLayerTelemetry.SystemTag, ChannelLayerTelemetry.SendTag,
                new KeyValuePair<string, object?>("error.type", errorType));
    }

    /// <summary>A waiting receive got its message: how long it waited.</summary>
    public void ReceiveWaited(long startedAt)
    {
        if (startedAt == 0 || !ChannelLayerTelemetry.OperationDuration.Enabled) return;
        ChannelLayerTelemetry.OperationDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(startedAt).TotalSeconds, Tag,
            ChannelLayerTelemetry.SystemTag, ChannelLayerTelemetry.ReceiveTag);
    }

    /// <summary><paramref name="copies"/> copies of a delivery were taken: how long each waited in memory.</summary>
    public void BufferedFor(long receivedAtMs, int copies = 1)
    {
        if (!ChannelLayerTelemetry.BufferDuration.Enabled) return;
        var seconds = Math.Max(0, Environment.TickCount64 - receivedAtMs) / 1000.0;
        for (var i = 0; i < copies; i++) ChannelLayerTelemetry.BufferDuration.Record(seconds, Tag);
    }

    public void GroupDelivered(int copies) => Count(ref _groupDeliveries, ChannelLayerTelemetry.GroupDeliveries, copies);

    public void ChannelWasFull() => Count(ref _channelFull, ChannelLayerTelemetry.ChannelFull, 1);

    public void ExpiredLocally() => Count(ref _expiredLocally, ChannelLayerTelemetry.ExpiredLocally, 1);

    public void DroppedNoRecipient() => Count(ref _droppedNoRecipient, ChannelLayerTelemetry.DroppedNoRecipient, 1);

    public void Malformed() => Count(ref _malformed, ChannelLayerTelemetry.Malformed, 1);

    public void DuplicateSuppressed() => Count(ref _duplicatesSuppressed, ChannelLayerTelemetry.DuplicatesSuppressed, 1);

    public long DuplicatesSuppressed => Interlocked.Read(ref _duplicatesSuppressed);

    /// <summary>A send whose connection closed before the broker confirmed it: it may be lost.</summary>
    public void LostWithConnection() => Count(ref _lostWithConnection, ChannelLayerTelemetry.LostWithConnection, 1);

    /// <summary>A delivery dropped on purpose by a test's fault (<c>ChannelLayerFaults.DropNextDeliveries</c>).</summary>
    public void DroppedSimulated() => Count(ref _droppedSimulated, ChannelLayerTelemetry.DroppedSimulated, 1);

    /// <summary>The connection actor took <paramref name="session"/> into use.</summary>
    public void ConnectionUp(bool isReconnect, object session)
    {
        if (isReconnect) Count(ref _reconnects, ChannelLayerTelemetry.Reconnects, 1);
        _lastConnectionError = null;
        lock (_connectionGate)
        {
            Interlocked.Exchange(ref _disconnectedSinceUtcTicks, 0);
            _connectedSession = session;
            _connected = true;
        }
    }

    /// <summary>
    /// The transport reports <paramref name="session"/> lost (on its own thread): if it is the one in
    /// use, the layer is disconnected from this moment, before its connection actor hears of it.
    /// </summary>
    public void ConnectionLost(object session)
    {
        lock (_connectionGate)
        {
            if (ReferenceEquals(_connectedSession, session)) ConnectionDown();
        }
    }

    /// <summary>A connection attempt failed: <paramref name="text"/> (no password) has been the cause since <paramref name="since"/>.</summary>
    public void ConnectionFailed(string text, DateTimeOffset since) => _lastConnectionError = new ConnectionError(text, since);

    public void ConnectionDown()
    {
        lock (_connectionGate)
        {
            _connectedSession = null;
            if (!_connected) return;
            _connected = false;
            Interlocked.Exchange(ref _disconnectedSinceUtcTicks, DateTimeOffset.UtcNow.UtcTicks);
        }
    }

    private readonly object _connectionGate = new();
    private volatile object? _connectedSession;

    public void LayerClosed() => _closed = true;

    /// <summary>The layer failed (an actor whose state cannot be rebuilt failed) and closes.</summary>
    public void LayerFailed(string why) => _failure = why;

    private volatile string? _failure;

    /// <summary>A delivery enters (+1) or leaves (−1, acked or dropped) the local backlog.</summary>
    public void AdjustBacklog(int delta) => Interlocked.Add(ref _localBacklog, delta);

    public void LiveChannelCount(int liveChannels) => _liveChannels = liveChannels;

    /// <summary>True at most once per <paramref name="interval"/>, from any thread.</summary>
    public bool ExpiryWarningDue(TimeSpan interval) => Due(ref _lastExpiryWarningMs, interval);

    /// <summary>True at most once per <paramref name="interval"/>, from any thread.</summary>
    public bool BackPressureWarningDue(TimeSpan interval) => Due(ref _lastBackPressureWarningMs, interval);

    private static bool Due(ref long lastMs, TimeSpan interval)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastMs);
        return now - last >= (long)interval.TotalMilliseconds
               && Interlocked.CompareExchange(ref lastMs, now, last) == last;
    }

    public void BiggestBuffers(IReadOnlyList<KeyValuePair<string, int>> biggest) => _biggest = biggest;

    public ChannelLayerStatistics Snapshot()
    {
        var since = Interlocked.Read(ref _disconnectedSinceUtcTicks);
        var error = _lastConnectionError;
        return new ChannelLayerStatistics(
            QueueName,
            _closed,
            _connected,
            _connected || since == 0 ? null : new DateTimeOffset(since, TimeSpan.Zero),
            Interlocked.Read(ref _reconnects),
            Interlocked.Read(ref _sent),
            Interlocked.Read(ref _received),
            Interlocked.Read(ref _groupDeliveries),
            Interlocked.Read(ref _channelFull),
            Interlocked.Read(ref _expiredLocally),
            Interlocked.Read(ref _droppedNoRecipient),
            Interlocked.Read(ref _malformed),
            LocalBacklog,
            _liveChannels,
            _biggest,
            error?.Text,
            error?.Since)
        {
            Failure = _failure,
            DuplicatesSuppressed = DuplicatesSuppressed,
            LostWithConnection = Interlocked.Read(ref _lostWithConnection),
            DroppedSimulated = Interlocked.Read(ref _droppedSimulated),
        };
    }

    private void Count(ref long field, System.Diagnostics.Metrics.Counter<long> counter, int amount)
    {
        Interlocked.Add(ref field, amount);
        if (counter.Enabled) counter.Add(amount, Tag);
    }
}
