using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>Registers <see cref="ChannelLayerHealthCheck"/>.</summary>
public static class ChannelLayerHealthCheckExtensions
{
    /// <summary>
    /// Adds a health check of a channel layer's connection:
    /// <c>services.AddHealthChecks().AddChannelLayer()</c>. Healthy while connected, Degraded
    /// while reconnecting, <paramref name="failureStatus"/> once disconnected for
    /// <paramref name="unhealthyAfter"/>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="layerName">The layer (its name as configured with <c>AddRabbitMqChannelLayer</c> or <c>WithRabbitMqChannelLayer</c>); null for the default layer.</param>
    /// <param name="unhealthyAfter">How long a disconnection is only Degraded; default <see cref="ChannelLayerHealthCheck.DefaultUnhealthyAfter"/> (30 s).</param>
    /// <param name="name">The check's name; default <c>channel-layer</c>, or <c>channel-layer-{layerName}</c> for a named layer.</param>
    /// <param name="failureStatus">Reported when the layer has been disconnected too long, is missing or is not started; default Unhealthy.</param>
    /// <param name="tags">Tags to filter checks by (e.g. <c>"ready"</c>).</param>
    /// <param name="timeout">The check's timeout; it never waits, so the default (none) is fine.</param>
    public static IHealthChecksBuilder AddChannelLayer(this IHealthChecksBuilder builder, string? layerName = null,
        TimeSpan? unhealthyAfter = null, string? name = null, HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (unhealthyAfter is { } after && after < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(unhealthyAfter), after, "UnhealthyAfter must not be negative.");
        name ??= layerName is null || DefaultChannelLayer.IsDefault(layerName) ? "channel-layer" : $"channel-layer-{layerName}";
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new ChannelLayerHealthCheck(
                ChannelLayerRegistry.Of(sp), layerName, unhealthyAfter, sp.GetService<TimeProvider>()),
            failureStatus,
            tags,
            timeout));
    }
}
