using ChannelsRabbitMq.Akka;

namespace OpenTelemetry.Metrics;

/// <summary>The layer's metrics for an OpenTelemetry <see cref="MeterProviderBuilder"/>.</summary>
public static class ChannelsRabbitMqMeterProviderBuilderExtensions
{
    /// <summary>
    /// Collects the metrics of every ChannelsRabbitMq.Akka layer in the process (the meter
    /// <see cref="ChannelLayerTelemetry.Name"/>; docs/telemetry.md lists the instruments).
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MeterProviderBuilder AddChannelsRabbitMqInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(ChannelLayerTelemetry.Name);
    }
}
