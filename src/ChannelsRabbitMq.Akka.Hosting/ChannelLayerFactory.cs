using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Creates the layer called <paramref name="name"/> in place of a <see cref="RabbitMqChannelLayer"/>:
/// registered with <see cref="ChannelLayerServiceCollectionExtensions.ReplaceChannelLayers"/>, so that an
/// app's own wiring runs in tests on the TestKit's in-memory broker
/// (<c>(system, name, options) =&gt; broker.CreateLayer(system)</c>).
/// </summary>
/// <param name="system">The app's ActorSystem.</param>
/// <param name="name">The layer's name.</param>
/// <param name="options">The layer's options, as configured and validated.</param>
/// <returns>The layer; the host closes it in CoordinatedShutdown.</returns>
public delegate IActorChannelLayer ChannelLayerFactory(ActorSystem system, string name, RabbitMqChannelLayerOptions options);
