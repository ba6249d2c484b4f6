using ChannelsRabbitMq.Akka;

namespace OpenTelemetry.Trace;

/// <summary>The layer's traces for an OpenTelemetry <see cref="TracerProviderBuilder"/>.</summary>
public static class ChannelsRabbitMqTracerProviderBuilderExtensions
{
    /// <summary>
    /// Records the send and receive spans of every ChannelsRabbitMq.Akka layer in the process (the
    /// activity source <see cref="ChannelLayerTelemetry.Name"/>). The trace context travels in
    /// AMQP headers written and read by <see cref="System.Diagnostics.DistributedContextPropagator.Current"/>.
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static TracerProviderBuilder AddChannelsRabbitMqInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(ChannelLayerTelemetry.Name);
    }
}
