using Akka.Actor;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>
/// Owns what a test of an application's actors needs besides the actor system: an
/// <see cref="InMemoryBroker"/>, the layers made from it, and the application's actors — and
/// tears them down in the order that loses nothing: first the application's actors (so their
/// <c>PostStop</c> can still leave groups, unsubscribe or send), then the layers. Dispose it
/// (<c>await using</c>) before the actor system shuts down, which a TestKit does after the test.
/// Thread-safe.
/// </summary>
/// <example>
/// <code>
/// await using var kit = new ChannelLayerTestKit(Sys);
/// var layer = kit.CreateLayer();
/// var connection = kit.ActorOf(Props.Create(() =&gt; new ChatConnection(layer, "lobby", TestActor)));
/// </code>
/// </example>
public sealed class ChannelLayerTestKit : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<InMemoryChannelLayer> _layers = [];
    private readonly List<IActorRef> _actors = [];
    private Task? _disposed;

    /// <summary>Creates a kit on <paramref name="system"/> (your TestKit's <c>Sys</c>) with a fresh broker.</summary>
    public ChannelLayerTestKit(ActorSystem system)
    {
        System = system ?? throw new ArgumentNullException(nameof(system));
        Broker = new InMemoryBroker();
    }

    /// <summary>The actor system the layers and actors run in.</summary>
    public ActorSystem System { get; }

    /// <summary>The broker every layer of this kit connects to (one "RabbitMQ" shared by all of them).</summary>
    public InMemoryBroker Broker { get; }

    /// <summary>How long <see cref="DisposeAsync"/> waits for the application's actors to stop (default 10 s).</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A new layer on <see cref="Broker"/> (another "server process"), closed by <see cref="DisposeAsync"/>.</summary>
    public InMemoryChannelLayer CreateLayer(Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var layer = Broker.CreateLayer(System, configure);
        lock (_gate) _layers.Add(layer);
        return layer;
    }

    /// <summary>
    /// Starts an application actor that <see cref="DisposeAsync"/> stops before it closes the
    /// layers. (Actors you start elsewhere, e.g. with <c>Sys.ActorOf</c>, stop only when the actor
    /// system does — after the layers are closed, so what their <c>PostStop</c> tells a layer is lost.)
    /// </summary>
    public IActorRef ActorOf(Props props, string? name = null)
    {
        var actor = name is null ? System.ActorOf(props) : System.ActorOf(props, name);
        lock (_gate) _actors.Add(actor);
        return actor;
    }

    /// <summary>Stops the application actors (and waits until they have), then closes every layer. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_gate) _disposed ??= DisposeOnceAsync();
        return new ValueTask(_disposed);
    }

    private async Task DisposeOnceAsync()
    {
        IActorRef[] actors;
        InMemoryChannelLayer[] layers;
        lock (_gate)
        {
            actors = _actors.ToArray();
            layers = _layers.ToArray();
        }
        // GracefulStop completes once the actor has stopped: its PostStop has run.
        await Task.WhenAll(actors.Select(StopAsync)).ConfigureAwait(false);
        foreach (var layer in layers) await layer.DisposeAsync().ConfigureAwait(false);
    }

    private async Task StopAsync(IActorRef actor)
    {
        try
        {
            await actor.GracefulStop(StopTimeout).ConfigureAwait(false);
        }
        catch (TaskCanceledException)
        {
            // Not stopped in time: close the layers anyway.
        }
    }
}
