using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// The layer's metrics (a <see cref="System.Diagnostics.Metrics.Meter"/>) and traces (an
/// <see cref="System.Diagnostics.ActivitySource"/>), both named <see cref="Name"/>. Every
/// measurement carries the tag <c>channels_rabbitmq.queue</c> with the layer's queue name.
/// </summary>
/// <remarks>
/// Instruments, after OpenTelemetry's messaging semantic conventions where they have one (with
/// <c>messaging.system = rabbitmq</c> and <c>messaging.operation.name</c>): counters
/// <c>messaging.client.sent.messages</c> (sends and group sends the broker confirmed) and
/// <c>messaging.client.consumed.messages</c> (messages handed to a receiver or subscriber); the
/// histogram <c>messaging.client.operation.duration</c> (seconds: a publish until the broker's
/// confirm, <c>send</c>, with <c>error.type</c> if it failed; a receive that waited until its
/// message came, <c>receive</c>). The layer's own: the histogram
/// <c>channels_rabbitmq.local_buffer.duration</c> (seconds a message waited in memory before it was
/// taken); counters <c>channels_rabbitmq.group.deliveries</c> (local copies of group messages), <c>.channel_full</c>,
/// <c>.expired_locally</c>, <c>.dropped_no_recipient</c>, <c>.malformed</c>, <c>.duplicates_suppressed</c>,
/// <c>.lost_with_connection</c>, <c>.dropped_simulated</c>, <c>.reconnects</c>;
/// gauges <c>channels_rabbitmq.local_backlog</c>, <c>.live_channels</c> and <c>.connected</c> (1 or 0).
/// </remarks>
public static class ChannelLayerTelemetry
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "ChannelsRabbitMq.Akka";

    /// <summary>The tag naming the layer's queue on every measurement.</summary>
    public const string QueueTag = "channels_rabbitmq.queue";

    private static readonly string? Version = typeof(ChannelLayerTelemetry).Assembly.GetName().Version?.ToString();
    private static readonly ConcurrentDictionary<LayerCounters, byte> Layers = new();

    internal static readonly Meter Meter = new(Name, Version);
    internal static readonly ActivitySource ActivitySource = new(Name, Version);

    internal static readonly KeyValuePair<string, object?> SystemTag = new("messaging.system", "rabbitmq");
    internal static readonly KeyValuePair<string, object?> SendTag = new("messaging.operation.name", "send");
    internal static readonly KeyValuePair<string, object?> ReceiveTag = new("messaging.operation.name", "receive");

    internal static readonly Counter<long> Sent = Meter.CreateCounter<long>("messaging.client.sent.messages", "{message}", "Sends and group sends confirmed by the broker.");
    internal static readonly Counter<long> Received = Meter.CreateCounter<long>("messaging.client.consumed.messages", "{message}", "Messages handed to a receiver or subscriber.");

    // Buckets from 0.5 ms to 10 s: a confirm or an in-memory wait is usually milliseconds.
    private static readonly double[] Seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram("messaging.client.operation.duration", "s",
        "A publish until the broker's confirm (send), or a receive that waited until its message came (receive).", tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });

    internal static readonly Histogram<double> BufferDuration = Meter.CreateHistogram("channels_rabbitmq.local_buffer.duration", "s",
        "How long a message waited in the layer's memory before a receiver or subscriber took it.", tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
    internal static readonly Counter<long> GroupDeliveries = Meter.CreateCounter<long>("channels_rabbitmq.group.deliveries", "{message}", "Local copies made of group messages.");
    internal static readonly Counter<long> ChannelFull = Meter.CreateCounter<long>("channels_rabbitmq.channel_full", "{message}", "Sends refused by a full queue.");
    internal static readonly Counter<long> ExpiredLocally = Meter.CreateCounter<long>("channels_rabbitmq.expired_locally", "{message}", "Messages dropped by local expiry.");
    internal static readonly Counter<long> DroppedNoRecipient = Meter.CreateCounter<long>("channels_rabbitmq.dropped_no_recipient", "{message}", "Group messages with no local member.");
    internal static readonly Counter<long> Malformed = Meter.CreateCounter<long>("channels_rabbitmq.malformed", "{message}", "Deliveries dropped as malformed.");
    internal static readonly Counter<long> DuplicatesSuppressed = Meter.CreateCounter<long>("channels_rabbitmq.duplicates_suppressed", "{message}", "Redeliveries of messages already received before a reconnect, dropped.");
    internal static readonly Counter<long> LostWithConnection = Meter.CreateCounter<long>("channels_rabbitmq.lost_with_connection", "{message}", "Sends whose connection closed before the broker confirmed them: they may be lost.");
    internal static readonly Counter<long> DroppedSimulated = Meter.CreateCounter<long>("channels_rabbitmq.dropped_simulated", "{message}", "Deliveries dropped by a test's ChannelLayerFaults.DropNextDeliveries.");
    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>("channels_rabbitmq.reconnects", "{connection}", "Connections established after the first.");

    static ChannelLayerTelemetry()
    {
        Meter.CreateObservableGauge("channels_rabbitmq.local_backlog", () => Observe(c => c.LocalBacklog), "{message}", "Deliveries held in memory, not yet acked.");
        Meter.CreateObservableGauge("channels_rabbitmq.live_channels", () => Observe(c => c.LiveChannels), "{channel}", "Channels with buffered messages, receivers or a subscriber.");
        Meter.CreateObservableGauge("channels_rabbitmq.connected", () => Observe(c => c.Connected ? 1 : 0), "{connection}", "1 while connected, else 0.");
    }

    internal static void Register(LayerCounters counters) => Layers.TryAdd(counters, 0);

    internal static void Unregister(LayerCounters counters) => Layers.TryRemove(counters, out _);

    private static IEnumerable<Measurement<int>> Observe(Func<LayerCounters, int> read)
    {
        foreach (var layer in Layers.Keys)
            yield return new Measurement<int>(read(layer), layer.Tag);
    }
}
