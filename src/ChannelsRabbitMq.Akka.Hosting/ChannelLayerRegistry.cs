using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The channel layers of one <see cref="ActorSystem"/>, by name: an Akka extension, as
/// <see cref="global::Akka.Hosting.ActorRegistry"/> is. It starts each layer configured with
/// <c>WithRabbitMqChannelLayer</c> when the ActorSystem's actors start, and closes it in
/// <see cref="CoordinatedShutdown"/> (phase <c>service-stop</c>), before the ActorSystem terminates.
/// </summary>
/// <remarks>
/// Inside an actor: <c>ChannelLayerRegistry.For(Context.System).Get("chat")</c>. From DI, inject
/// <see cref="IChannelLayers"/> (registered by <c>services.AddChannelLayers()</c>), which is this object.
/// </remarks>
public sealed class ChannelLayerRegistry : IExtension, IChannelLayers
{
    private readonly ActorSystem _system;
    private readonly IReadOnlyDictionary<string, RabbitMqChannelLayerOptions> _configured;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<RabbitMqChannelLayer>> _layers = new(StringComparer.OrdinalIgnoreCase);

    internal ChannelLayerRegistry(ActorSystem system)
    {
        _system = system;
        _configured = system.Settings.Setup.Get<ChannelLayersSetup>().Select(s => s.Layers)
            .GetOrElse(new Dictionary<string, RabbitMqChannelLayerOptions>());
        foreach (var name in _configured.Keys)
            _layers[name] = new TaskCompletionSource<RabbitMqChannelLayer>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Nobody should wait forever for a layer whose ActorSystem is gone.
        system.WhenTerminated.ContinueWith(_ =>
        {
            foreach (var (name, layer) in _layers)
                layer.TrySetException(new ChannelLayerClosedException($"The ActorSystem terminated before channel layer '{name}' started."));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The registry of <paramref name="system"/>.</summary>
    public static ChannelLayerRegistry For(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.WithExtension<ChannelLayerRegistry, ChannelLayerRegistryId>();
    }

    /// <inheritdoc />
    public IReadOnlyCollection<string> Names => _configured.Keys.ToArray();

    /// <inheritdoc />
    public IActorChannelLayer Get(string name = DefaultChannelLayer.Name) => GetLayer(name);

    /// <inheritdoc />
    public async Task<IActorChannelLayer> GetAsync(string name = DefaultChannelLayer.Name, CancellationToken cancellationToken = default) =>
        await Slot(name).Task.WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The layer called <paramref name="name"/> as its concrete type (for the DI registration of <see cref="RabbitMqChannelLayer"/>).</summary>
    internal RabbitMqChannelLayer GetLayer(string name)
    {
        var slot = Slot(name).Task;
        if (slot.IsCompletedSuccessfully) return slot.Result;
        if (slot.IsFaulted) throw slot.Exception!.InnerException!;
        throw new InvalidOperationException(
            $"Channel layer '{name}' is configured but has not started yet: layers start with the ActorSystem's actors, when the " +
            "host starts (AkkaHostedService). Resolve it once the host has started, or wait for it with " +
            "IChannelLayers.GetAsync or IRequiredActor<DefaultChannelLayer>.GetAsync.");
    }

    /// <summary>Starts the layer called <paramref name="name"/>: called once, by the actor starter of <c>WithRabbitMqChannelLayer</c>.</summary>
    internal RabbitMqChannelLayer Start(string name)
    {
        var slot = Slot(name);
        if (slot.Task.IsCompleted)
            throw new InvalidOperationException($"Channel layer '{name}' has already been started.");

        var layer = new RabbitMqChannelLayer(_system, _configured[name]);
        // Pending receives end with ChannelLayerClosedException and the connection closes while
        // the ActorSystem still runs; service-stop comes after the requests in progress are done
        // (service-requests-done), so they can still send.
        CoordinatedShutdown.Get(_system).AddTask(CoordinatedShutdown.PhaseServiceStop, $"close-channel-layer-{name}", async () =>
        {
            try
            {
                await layer.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _system.Log.Error(e, "Channel layer '{0}' did not close cleanly", name);
            }
            return global::Akka.Done.Instance;
        });
        slot.TrySetResult(layer);
        return layer;
    }

    private TaskCompletionSource<RabbitMqChannelLayer> Slot(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_layers.TryGetValue(name, out var slot)) return slot;
        throw new ArgumentException(
            _configured.Count == 0
                ? $"No channel layer named '{name}': no channel layer is configured. Call WithRabbitMqChannelLayer(…) in AddAkka(…)."
                : $"No channel layer named '{name}' is configured; the configured layers are: {string.Join(", ", _configured.Keys.Select(n => $"'{n}'"))}.",
            nameof(name));
    }
}

/// <summary>Creates the <see cref="ChannelLayerRegistry"/> of an ActorSystem.</summary>
internal sealed class ChannelLayerRegistryId : ExtensionIdProvider<ChannelLayerRegistry>
{
    public override ChannelLayerRegistry CreateExtension(ExtendedActorSystem system) => new(system);
}
