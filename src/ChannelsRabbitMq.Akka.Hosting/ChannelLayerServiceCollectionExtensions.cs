using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>Makes the channel layers of the app's ActorSystem injectable.</summary>
public static class ChannelLayerServiceCollectionExtensions
{
    /// <summary>
    /// Registers, as singletons: <see cref="IChannelLayers"/> (every layer, by name) and the
    /// default layer as <see cref="IChannelLayer"/>, <see cref="IActorChannelLayer"/> and
    /// <see cref="RabbitMqChannelLayer"/> (one instance). The layers themselves are configured
    /// with <c>WithRabbitMqChannelLayer</c> in <c>AddAkka</c>. Calling this twice does nothing more.
    /// </summary>
    /// <remarks>
    /// The layers start with the ActorSystem's actors, when the host starts. Resolving the
    /// default layer before that throws <see cref="InvalidOperationException"/> (rather than
    /// blocking a thread until a start that may itself be waiting on that thread): a hosted
    /// service that needs a layer at start-up awaits <see cref="IChannelLayers.GetAsync"/> or
    /// <c>IRequiredActor&lt;DefaultChannelLayer&gt;.GetAsync</c> instead.
    /// </remarks>
    public static IServiceCollection AddChannelLayers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<IChannelLayers>(sp => ChannelLayerRegistry.For(sp.GetRequiredService<ActorSystem>()));
        services.TryAddSingleton(sp =>
            ChannelLayerRegistry.For(sp.GetRequiredService<ActorSystem>()).GetLayer(DefaultChannelLayer.Name));
        services.TryAddSingleton<IActorChannelLayer>(sp => sp.GetRequiredService<RabbitMqChannelLayer>());
        services.TryAddSingleton<IChannelLayer>(sp => sp.GetRequiredService<RabbitMqChannelLayer>());
        return services;
    }
}
