namespace ChannelsRabbitMq.Akka.Samples.Chat.Load;

/// <summary>A snapshot of a load run, live or final.</summary>
/// <param name="Phase">connecting, sending, draining, closing or done.</param>
/// <param name="Elapsed">Time since the run started.</param>
/// <param name="Connected">Clients connected and in their room.</param>
/// <param name="Clients">Clients of the run.</param>
/// <param name="Sent">Messages sent (accepted by a websocket).</param>
/// <param name="Expected">Deliveries the sent messages owe: each reaches every client of its room, its sender too.</param>
/// <param name="Delivered">Deliveries received.</param>
/// <param name="Errors">Error frames received, and sends that failed.</param>
/// <param name="Latencies">Delivery latencies so far, in milliseconds (from the send to the receipt).</param>
public sealed record LoadProgress(string Phase, TimeSpan Elapsed, int Connected, int Clients, long Sent, long Expected, long Delivered,
    long Errors, LatencySummary Latencies)
{
    /// <summary>Deliveries still owed.</summary>
    public long Outstanding => Math.Max(0, Expected - Delivered);
}

/// <summary>The closing summary of a load run.</summary>
/// <param name="Clients">Clients of the run.</param>
/// <param name="Servers">Servers they were spread over.</param>
/// <param name="Rooms">Rooms they were spread over.</param>
/// <param name="Rate">Requested total send rate, messages per second.</param>
/// <param name="SendDuration">How long the clients sent.</param>
/// <param name="Sent">Messages sent.</param>
/// <param name="Expected">Deliveries owed (each message to every client of its room).</param>
/// <param name="Delivered">Deliveries received (duplicates not counted).</param>
/// <param name="Duplicates">Deliveries received more than once.</param>
/// <param name="Errors">Error frames received, and sends that failed.</param>
/// <param name="Disconnected">Clients whose connection closed before the end of the run.</param>
/// <param name="Latencies">Delivery latency percentiles.</param>
public sealed record LoadReport(int Clients, int Servers, int Rooms, double Rate, TimeSpan SendDuration, long Sent, long Expected,
    long Delivered, long Duplicates, long Errors, int Disconnected, LatencySummary Latencies)
{
    /// <summary>Deliveries owed but never received.</summary>
    public long Lost => Math.Max(0, Expected - Delivered);

    /// <summary>Messages sent per second, as achieved.</summary>
    public double SentPerSecond => SendDuration > TimeSpan.Zero ? Sent / SendDuration.TotalSeconds : 0;

    /// <summary>Deliveries per second over the send phase.</summary>
    public double DeliveredPerSecond => SendDuration > TimeSpan.Zero ? Delivered / SendDuration.TotalSeconds : 0;

    /// <summary>True when every delivery arrived, exactly once, with no error.</summary>
    public bool Clean => Lost == 0 && Duplicates == 0 && Errors == 0 && Disconnected == 0 && Sent > 0;
}

/// <summary>Latency percentiles in milliseconds (0 when there is no sample).</summary>
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double Max)
{
    /// <summary>No samples.</summary>
    public static readonly LatencySummary Empty = new(0, 0, 0, 0, 0);

    /// <summary>The percentiles of <paramref name="samples"/> (sorted in place).</summary>
    public static LatencySummary Of(double[] samples)
    {
        if (samples.Length == 0) return Empty;
        Array.Sort(samples);
        return new LatencySummary(samples.Length, Percentile(samples, 0.50), Percentile(samples, 0.90), Percentile(samples, 0.99), samples[^1]);
    }

    // Nearest rank.
    private static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
