namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The wait before the next connection attempt after <c>failures</c> consecutive failed ones:
/// <c>ReconnectDelay</c> doubled per failure, capped at <c>MaxReconnectDelay</c>, spread by
/// ±<see cref="Jitter"/> (never above the cap) so that many processes that lost the same broker
/// do not retry in step. A pure function of its inputs, so specs need no clock.
/// </summary>
internal static class ReconnectBackoff
{
    /// <summary>The spread of each wait: ±20 %.</summary>
    public const double Jitter = 0.2;

    /// <param name="failures">Consecutive failed attempts, at least 1.</param>
    /// <param name="baseDelay">The wait after the first failure (<c>ReconnectDelay</c>).</param>
    /// <param name="maxDelay">The cap (<c>MaxReconnectDelay</c>); a <paramref name="baseDelay"/> above it is the cap.</param>
    /// <param name="random">A uniform sample in [0, 1).</param>
    public static TimeSpan Delay(int failures, TimeSpan baseDelay, TimeSpan maxDelay, double random)
    {
        if (maxDelay < baseDelay) maxDelay = baseDelay;
        var doublings = Math.Clamp(failures - 1, 0, 30);
        var unspread = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, doublings));
        var spread = unspread * (1 + Jitter * (2 * random - 1));
        return TimeSpan.FromMilliseconds(Math.Clamp(spread, 0, maxDelay.TotalMilliseconds));
    }
}
