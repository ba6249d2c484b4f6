using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;
using RabbitMQ.Client;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>How <see cref="ChannelLayerFaults.DropConnectionAsync"/> closes a RabbitMQ connection.</summary>
public sealed class RabbitMqFaultOptions
{
    /// <summary>
    /// The <c>rabbitmqctl</c> command that reaches the broker: the program and its leading
    /// arguments, e.g. <c>["rabbitmqctl", "-n", "rabbit@myhost"]</c> or
    /// <c>["docker", "exec", "my-rabbit", "rabbitmqctl"]</c>. A drop runs
    /// <c>list_connections pid client_properties</c>, finds the layer's connection by its
    /// client-provided name (<c>"ChannelsRabbitMq.Akka {queueName}"</c>) and runs
    /// <c>close_connection {pid} {reason}</c>: the broker closes it, as an operator or a broker
    /// restart would. When the command fails or finds nothing, the client aborts the connection
    /// instead. Default <c>["rabbitmqctl"]</c>; null or empty to always abort from the client.
    /// </summary>
    public IReadOnlyList<string>? CtlCommand { get; set; } = ["rabbitmqctl"];

    /// <summary>Time allowed for each run of <see cref="CtlCommand"/> (default 30 s).</summary>
    public TimeSpan CtlTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A <see cref="RabbitMqChannelLayer"/> and the faults that can be injected into its connection.</summary>
/// <param name="Layer">The layer: a real <see cref="RabbitMqChannelLayer"/>; close or dispose it as usual.</param>
/// <param name="Faults">Scripted failures of its connection.</param>
public sealed record RabbitMqLayerWithFaults(RabbitMqChannelLayer Layer, ChannelLayerFaults Faults);

/// <summary>
/// Creates <see cref="RabbitMqChannelLayer"/>s whose connection to RabbitMQ can be made to fail
/// on cue (<see cref="ChannelLayerFaults"/>), for tests of an application's resilience against a
/// real broker.
/// </summary>
/// <example>
/// <code>
/// var (layer, faults) = FaultyRabbitMqChannelLayer.Create(Sys, new RabbitMqChannelLayerOptions { Host = url });
/// await faults.DropConnectionAsync();
/// await faults.WaitForReconnectAsync();
/// </code>
/// </example>
public static class FaultyRabbitMqChannelLayer
{
    /// <summary>
    /// Starts a RabbitMQ layer (exactly as <c>new RabbitMqChannelLayer(system, options)</c>, same
    /// connection name) with a fault-injecting decorator around its connection.
    /// </summary>
    /// <param name="system">The actor system the layer's actors run in.</param>
    /// <param name="options">The layer's options; not modified.</param>
    /// <param name="faultOptions">How a dropped connection is closed; by default via <c>rabbitmqctl</c>, else by the client.</param>
    /// <exception cref="ArgumentException">An option is invalid (as for <see cref="RabbitMqChannelLayer"/>).</exception>
    public static RabbitMqLayerWithFaults Create(ActorSystem system, RabbitMqChannelLayerOptions options, RabbitMqFaultOptions? faultOptions = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(options);
        faultOptions ??= new RabbitMqFaultOptions();
        var log = Logging.GetLogger(system, typeof(FaultyRabbitMqChannelLayer));
        // Fails now, not in the background, on an invalid Host or TLS file (as the layer does).
        options.Validate();
        _ = new RabbitMqTransport(options);

        // The connection name holds the queue name, which the layer picks: the real transport is
        // made once the layer exists (the decorator waits for it).
        var transport = new TaskCompletionSource<IAmqpTransport>(TaskCreationOptions.RunContinuationsAsynchronously);
        RabbitMqTransport? named = null;
        var ctlCommand = faultOptions.CtlCommand?.ToArray();
        var ctlTimeout = faultOptions.CtlTimeout;
        var faults = new ChannelLayerFaults((session, ct) => DropAsync(session, named!.ConnectionName, ctlCommand, ctlTimeout, log, ct));
        var layer = new RabbitMqChannelLayer(system, options, new FaultInjectingTransport(transport.Task, faults));
        named = new RabbitMqTransport(options, $"{RabbitMqTransport.ConnectionNamePrefix} {layer.QueueName}", log);
        transport.SetResult(named);
        faults.AttachLayer(layer, system);
        return new RabbitMqLayerWithFaults(layer, faults);
    }

    private static async Task<ConnectionDropSide> DropAsync(IAmqpSession session, string connectionName, string[]? ctlCommand,
        TimeSpan ctlTimeout, ILoggingAdapter log, CancellationToken cancellationToken)
    {
        if (ctlCommand is { Length: > 0 })
        {
            try
            {
                var closed = await RabbitMqCtl.CloseConnectionsAsync(ctlCommand, ctlTimeout, connectionName,
                    "Closed by ChannelLayerFaults.DropConnectionAsync", cancellationToken).ConfigureAwait(false);
                if (closed > 0) return ConnectionDropSide.Broker;
                log.Warning("ChannelLayerFaults: rabbitmqctl found no connection named '{0}'; aborting it from the client instead", connectionName);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                log.Warning("ChannelLayerFaults: could not close connection '{0}' with rabbitmqctl ({1}); aborting it from the client instead",
                    connectionName, ex.Message);
            }
        }
        var connection = session.Connection ?? throw new InvalidOperationException("The session has no RabbitMQ connection to abort.");
        await connection.AbortAsync(cancellationToken).ConfigureAwait(false);
        return ConnectionDropSide.Client;
    }
}
