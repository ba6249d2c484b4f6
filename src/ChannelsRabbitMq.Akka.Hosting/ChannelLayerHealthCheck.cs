using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Reports a layer's connection: <see cref="HealthStatus.Healthy"/> while connected,
/// <see cref="HealthStatus.Degraded"/> while it reconnects, and the registration's failure
/// status (<see cref="HealthStatus.Unhealthy"/> by default) once it has been disconnected for
/// <see cref="UnhealthyAfter"/> or longer, or when the layer is missing or not started.
/// Register it with <see cref="ChannelLayerHealthCheckExtensions.AddChannelLayer"/>.
/// </summary>
/// <remarks>
/// A layer is disconnected from its start until its first connection, so a layer that never
/// reaches its broker turns unhealthy <see cref="UnhealthyAfter"/> after it started. The
/// result's data: <c>layer</c>, <c>queueName</c>, <c>connected</c>, <c>disconnectedSince</c>
/// (while disconnected), <c>reconnects</c>, <c>lastConnectionError</c> and
/// <c>lastConnectionErrorSince</c> (while attempts fail), <c>localBacklog</c> and
/// <c>liveChannels</c>. While disconnected, the description ends with why connection attempts
/// fail and the fix where known.
/// </remarks>
public sealed class ChannelLayerHealthCheck : IHealthCheck
{
    private readonly Func<IActorChannelLayer> _layer;
    private readonly string? _layerName;
    private readonly TimeProvider _time;

    /// <summary>Checks the layer called <paramref name="layerName"/> of <paramref name="layers"/>, looked up at each check.</summary>
    /// <param name="layers">The app's layers.</param>
    /// <param name="layerName">The layer's name; null for the default layer.</param>
    /// <param name="unhealthyAfter">How long a disconnection is only Degraded; default <see cref="DefaultUnhealthyAfter"/>.</param>
    /// <param name="timeProvider">The clock; default <see cref="TimeProvider.System"/>.</param>
    public ChannelLayerHealthCheck(IChannelLayers layers, string? layerName = null, TimeSpan? unhealthyAfter = null, TimeProvider? timeProvider = null)
        : this(() => layers.Get(layerName ?? DefaultChannelLayer.Name), layerName ?? DefaultChannelLayer.Name, unhealthyAfter, timeProvider)
    {
        ArgumentNullException.ThrowIfNull(layers);
    }

    /// <summary>Checks <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="unhealthyAfter">How long a disconnection is only Degraded; default <see cref="DefaultUnhealthyAfter"/>.</param>
    /// <param name="timeProvider">The clock; default <see cref="TimeProvider.System"/>.</param>
    public ChannelLayerHealthCheck(IActorChannelLayer layer, TimeSpan? unhealthyAfter = null, TimeProvider? timeProvider = null)
        : this(() => layer, null, unhealthyAfter, timeProvider)
    {
        ArgumentNullException.ThrowIfNull(layer);
    }

    private ChannelLayerHealthCheck(Func<IActorChannelLayer> layer, string? layerName, TimeSpan? unhealthyAfter, TimeProvider? timeProvider)
    {
        if (unhealthyAfter is { } after && after < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(unhealthyAfter), after, "UnhealthyAfter must not be negative.");
        _layer = layer;
        _layerName = layerName;
        UnhealthyAfter = unhealthyAfter ?? DefaultUnhealthyAfter;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How long a disconnection is reported as Degraded when none is given: 30 seconds.</summary>
    public static TimeSpan DefaultUnhealthyAfter { get; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a disconnection is reported as Degraded before it counts as a failure.</summary>
    public TimeSpan UnhealthyAfter { get; }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failureStatus = context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        IActorChannelLayer layer;
        try
        {
            layer = _layer();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ChannelLayerClosedException)
        {
            // Not configured, not started yet, or its ActorSystem is gone.
            return Task.FromResult(new HealthCheckResult(failureStatus, e.Message, e, Data(null)));
        }

        var statistics = layer.GetStatistics();
        var data = Data(statistics);
        if (statistics.Failure is { } failure)
            return Task.FromResult(new HealthCheckResult(failureStatus, $"The layer failed and closed: {failure}; queue {statistics.QueueName}.", data: data));
        if (statistics.Connected)
            return Task.FromResult(HealthCheckResult.Healthy($"Connected; queue {statistics.QueueName}.", data));

        var since = statistics.DisconnectedSince ?? _time.GetUtcNow();
        var disconnectedFor = _time.GetUtcNow() - since;
        if (disconnectedFor < TimeSpan.Zero) disconnectedFor = TimeSpan.Zero;
        var description = $"Disconnected for {disconnectedFor.TotalSeconds:0.###} s (since {since:O}); queue {statistics.QueueName}.";
        if (statistics.LastConnectionError is { } error)
            description += $" Connection attempts failing since {statistics.LastConnectionErrorSince:O}: {error}.";
        return Task.FromResult(disconnectedFor >= UnhealthyAfter
            ? new HealthCheckResult(failureStatus, $"{description} Unhealthy after {UnhealthyAfter.TotalSeconds:0.###} s.", data: data)
            : HealthCheckResult.Degraded($"{description} Reconnecting.", data: data));
    }

    private Dictionary<string, object> Data(ChannelLayerStatistics? statistics)
    {
        var data = new Dictionary<string, object>();
        if (_layerName is not null) data["layer"] = _layerName;
        if (statistics is null) return data;
        data["queueName"] = statistics.QueueName;
        data["connected"] = statistics.Connected;
        if (statistics.DisconnectedSince is { } since) data["disconnectedSince"] = since;
        data["reconnects"] = statistics.Reconnects;
        if (statistics.LastConnectionError is { } error) data["lastConnectionError"] = error;
        if (statistics.LastConnectionErrorSince is { } errorSince) data["lastConnectionErrorSince"] = errorSince;
        data["localBacklog"] = statistics.LocalBacklog;
        data["liveChannels"] = statistics.LiveChannels;
        return data;
    }
}
