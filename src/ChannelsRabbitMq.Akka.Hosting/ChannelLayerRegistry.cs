using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// The channel layers of one <see cref="ActorSystem"/>, by name: an Akka extension, as
/// <see cref="ActorRegistry"/> is. It starts each configured layer when the host starts and
/// closes it in <see cref="CoordinatedShutdown"/> (phase <c>service-stop</c>), before the
/// ActorSystem terminates.
/// </summary>
/// <remarks>
/// Inside an actor: <c>ChannelLayerRegistry.For(Context.System).Get("chat")</c>. From DI, inject
/// <see cref="IChannelLayers"/>, which is this object, or a layer keyed by its name.
/// </remarks>
public sealed class ChannelLayerRegistry : IExtension, IChannelLayers
{
    private readonly ActorSystem _system;
    // Layers configured on the Akka builder (WithRabbitMqChannelLayer), with their options.
    private readonly IReadOnlyDictionary<string, RabbitMqChannelLayerOptions> _configured;
    // Every configured name: the builder's, and the services' (AddRabbitMqChannelLayer) once declared.
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IActorChannelLayer>> _layers = new(StringComparer.OrdinalIgnoreCase);

    internal ChannelLayerRegistry(ActorSystem system)
    {
        _system = system;
        _configured = system.Settings.Setup.Get<ChannelLayersSetup>().Select(s => s.Layers)
            .GetOrElse(new Dictionary<string, RabbitMqChannelLayerOptions>());
        foreach (var name in _configured.Keys) _layers[name] = NewSlot();
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

    /// <summary>The registry of the app's ActorSystem, knowing the layers configured with <c>AddRabbitMqChannelLayer</c>.</summary>
    internal static ChannelLayerRegistry Of(IServiceProvider services)
    {
        var registry = For(services.GetRequiredService<ActorSystem>());
        registry.Declare(services.GetServices<ChannelLayerDefinition>());
        return registry;
    }

    /// <inheritdoc />
    public IReadOnlyCollection<string> Names => _layers.Keys.Order(StringComparer.OrdinalIgnoreCase).ToArray();

    /// <inheritdoc />
    public IActorChannelLayer Get(string name = DefaultChannelLayer.Name) => GetLayer(name);

    /// <inheritdoc />
    public async Task<IActorChannelLayer> GetAsync(string name = DefaultChannelLayer.Name, CancellationToken cancellationToken = default) =>
        await Slot(name).Task.WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The layer called <paramref name="name"/>, started.</summary>
    internal IActorChannelLayer GetLayer(string name)
    {
        var slot = Slot(name).Task;
        if (slot.IsCompletedSuccessfully) return slot.Result;
        if (slot.IsFaulted) throw slot.Exception!.InnerException!;
        throw new InvalidOperationException(
            $"Channel layer '{name}' is configured but has not started yet: layers start when the host starts. Resolve it once " +
            "the host has started, or wait for it with IChannelLayers.GetAsync or IRequiredActor<DefaultChannelLayer>.GetAsync.");
    }

    /// <summary>Makes the layers configured in DI known by name, so that they can be waited for before they start.</summary>
    /// <exception cref="InvalidOperationException">A name is also configured on the Akka builder.</exception>
    internal void Declare(IEnumerable<ChannelLayerDefinition> definitions)
    {
        foreach (var definition in definitions)
        {
            if (_configured.ContainsKey(definition.Name))
                throw new InvalidOperationException(
                    $"A channel layer named '{definition.Name}' is configured twice: with AddRabbitMqChannelLayer and with " +
                    "WithRabbitMqChannelLayer (layer names ignore case). Give each layer its own name.");
            _layers.TryAdd(definition.Name, NewSlot());
        }
    }

    /// <summary>Starts the layer configured on the Akka builder as <paramref name="name"/>.</summary>
    internal IActorChannelLayer Start(string name, ChannelLayerFactory? factory) => Start(name, _configured[name], factory);

    /// <summary>
    /// Starts the layer called <paramref name="name"/> (once): created by <paramref name="factory"/>
    /// if the app replaced the layers (tests), else a <see cref="RabbitMqChannelLayer"/>.
    /// </summary>
    internal IActorChannelLayer Start(string name, RabbitMqChannelLayerOptions options, ChannelLayerFactory? factory)
    {
        var slot = Slot(name);
        if (slot.Task.IsCompleted)
            throw new InvalidOperationException($"Channel layer '{name}' has already been started.");

        var layer = factory is null ? new RabbitMqChannelLayer(_system, options) : factory(_system, name, options);
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

    /// <summary>Puts the layer's actor in the <see cref="ActorRegistry"/>: the default layer under <see cref="DefaultChannelLayer"/>, and under <paramref name="key"/> if any.</summary>
    internal static void Register(IActorRegistry registry, string name, Type? key, IActorChannelLayer layer)
    {
        if (DefaultChannelLayer.IsDefault(name)) registry.TryRegister(typeof(DefaultChannelLayer), layer.Actor);
        if (key is not null && !registry.TryRegister(key, layer.Actor))
            throw new InvalidOperationException(
                $"Channel layer '{name}': the ActorRegistry already holds an actor under the key {key.Name}. Give each layer its own key type.");
    }

    private static TaskCompletionSource<IActorChannelLayer> NewSlot() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TaskCompletionSource<IActorChannelLayer> Slot(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_layers.TryGetValue(name, out var slot)) return slot;
        throw new ArgumentException(
            _layers.IsEmpty
                ? $"No channel layer named '{name}': no channel layer is configured. Call services.AddRabbitMqChannelLayer(…)."
                : $"No channel layer named '{name}' is configured; the configured layers are: {string.Join(", ", Names.Select(n => $"'{n}'"))}.",
            nameof(name));
    }
}

/// <summary>Creates the <see cref="ChannelLayerRegistry"/> of an ActorSystem.</summary>
internal sealed class ChannelLayerRegistryId : ExtensionIdProvider<ChannelLayerRegistry>
{
    public override ChannelLayerRegistry CreateExtension(ExtendedActorSystem system) => new(system);
}
