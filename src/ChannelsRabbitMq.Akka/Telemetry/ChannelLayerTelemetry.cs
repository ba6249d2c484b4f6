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
/// Instruments: counters <c>channels_rabbitmq.messages.sent</c>, <c>.messages.received</c>,
/// <c>.group.deliveries</c> (local copies of group messages), <c>.channel_full</c>,
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

    internal static readonly Counter<long> Sent = Meter.CreateCounter<long>("channels_rabbitmq.messages.sent", "{message}", "Sends and group sends confirmed by the broker.");
    internal static readonly Counter<long> Received = Meter.CreateCounter<long>("channels_rabbitmq.messages.received", "{message}", "Messages handed to a receiver or subscriber.");
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
