using Akka.TestKit;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// The awaitable signals of <see cref="ChannelLayerFaults"/> and <see cref="InMemoryChannelLayer"/>
/// with Akka.TestKit's timeouts: inside <c>Within</c>/<c>WithinAsync</c> they get the time that is
/// left; outside, the given timeout (or <c>akka.test.single-expect-default</c>), dilated by
/// <c>akka.test.timefactor</c>. They fail with <see cref="TimeoutException"/> naming what did not
/// happen.
/// </summary>
/// <example>
/// <code>
/// await layer.Faults.BeginOutageAsync(this);
/// await layer.Faults.WaitForConnectAttemptsRefusedAsync(2, this);
/// layer.Faults.EndOutage();
/// await layer.Faults.WaitForReconnectAsync(this, TimeSpan.FromSeconds(5));
/// </code>
/// </example>
public static class ChannelLayerTestKitExtensions
{
    /// <summary><see cref="ChannelLayerFaults.DropConnectionAsync"/> within the TestKit's timeout.</summary>
    public static Task<ConnectionDropSide> DropConnectionAsync(this ChannelLayerFaults faults, TestKitBase testKit, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var within = Remaining(testKit, timeout);
        return ChannelLayerFaults.Within(faults.DropConnectionAsync(cancellationToken), within, "the connection was not dropped", cancellationToken);
    }

    /// <summary><see cref="ChannelLayerFaults.BeginOutageAsync"/> (lasting <paramref name="duration"/>, or until ended) within the TestKit's timeout.</summary>
    public static Task BeginOutageAsync(this ChannelLayerFaults faults, TestKitBase testKit, TimeSpan? duration = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var within = Remaining(testKit, timeout);
        return ChannelLayerFaults.Within(faults.BeginOutageAsync(duration, cancellationToken), within, "the outage did not drop the connection",
            cancellationToken);
    }

    /// <summary><see cref="ChannelLayerFaults.WaitForReconnectAsync(CancellationToken)"/> within the TestKit's timeout.</summary>
    public static Task WaitForReconnectAsync(this ChannelLayerFaults faults, TestKitBase testKit, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        faults.WaitForReconnectAsync(Remaining(testKit, timeout), cancellationToken);

    /// <summary><see cref="ChannelLayerFaults.WaitForDisconnectAsync(CancellationToken)"/> within the TestKit's timeout.</summary>
    public static Task WaitForDisconnectAsync(this ChannelLayerFaults faults, TestKitBase testKit, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        faults.WaitForDisconnectAsync(Remaining(testKit, timeout), cancellationToken);

    /// <summary><see cref="ChannelLayerFaults.WaitForConnectAttemptsRefusedAsync(int, CancellationToken)"/> within the TestKit's timeout.</summary>
    public static Task WaitForConnectAttemptsRefusedAsync(this ChannelLayerFaults faults, int count, TestKitBase testKit, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        faults.WaitForConnectAttemptsRefusedAsync(count, Remaining(testKit, timeout), cancellationToken);

    /// <summary><see cref="InMemoryChannelLayer.WaitForConnectionAsync"/> within the TestKit's timeout.</summary>
    public static Task WaitForConnectionAsync(this InMemoryChannelLayer layer, TestKitBase testKit, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var within = Remaining(testKit, timeout);
        return ChannelLayerFaults.Within(layer.WaitForConnectionAsync(cancellationToken), within, "the layer did not connect", cancellationToken);
    }

    private static TimeSpan Remaining(TestKitBase testKit, TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(testKit);
        return testKit.RemainingOrDilated(timeout);
    }
}
