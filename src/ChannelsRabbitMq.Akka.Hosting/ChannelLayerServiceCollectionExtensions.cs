using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Adds RabbitMQ channel layers to an app's services, next to <c>services.AddAkka(…)</c>: one
/// call per layer, <c>builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"))</c>.
/// </summary>
public static class ChannelLayerServiceCollectionExtensions
{
    /// <summary>
    /// Adds a layer configured by a section such as <c>"ChannelLayers:default"</c> of appsettings.json
    /// (see <see cref="ChannelLayerConfiguration"/> for the keys and formats): the options named
    /// <paramref name="name"/> are bound from it and validated when the host starts; the layer
    /// starts with the host, is injectable (<see cref="AddChannelLayers"/>) and is in the
    /// <see cref="ActorRegistry"/> if it is the default layer.
    /// </summary>
    /// <param name="services">The app's services; <c>AddAkka</c> must configure its ActorSystem.</param>
    /// <param name="configuration">The layer's section: <c>{ "Host": "amqp://…", "Expiry": "60", "Tls": { … } }</c>.</param>
    /// <param name="name">The layer's name and the name of its options; the default layer is <see cref="DefaultChannelLayer.Name"/>.</param>
    /// <exception cref="InvalidOperationException">A layer of that name is already configured.</exception>
    public static IServiceCollection AddRabbitMqChannelLayer(this IServiceCollection services, IConfiguration configuration,
        string name = DefaultChannelLayer.Name) =>
        services.AddLayer(name, null, configuration, null);

    /// <summary>Adds a layer configured in code, starting from the defaults: <c>services.AddRabbitMqChannelLayer(o =&gt; o.Host = "amqp://…")</c>.</summary>
    /// <param name="services">The app's services; <c>AddAkka</c> must configure its ActorSystem.</param>
    /// <param name="configure">Sets the options named <paramref name="name"/>.</param>
    /// <param name="name">The layer's name and the name of its options; the default layer is <see cref="DefaultChannelLayer.Name"/>.</param>
    /// <exception cref="InvalidOperationException">A layer of that name is already configured.</exception>
    public static IServiceCollection AddRabbitMqChannelLayer(this IServiceCollection services, Action<RabbitMqChannelLayerOptions> configure,
        string name = DefaultChannelLayer.Name) =>
        services.AddLayer(name, null, null, configure ?? throw new ArgumentNullException(nameof(configure)));

    /// <summary>
    /// Adds a layer configured from <paramref name="configuration"/> whose actor is also in the
    /// <see cref="ActorRegistry"/> under <typeparamref name="TKey"/>, for <c>IRequiredActor&lt;TKey&gt;</c>.
    /// </summary>
    /// <typeparam name="TKey">The registry key: a marker type of the app's.</typeparam>
    /// <param name="services">The app's services; <c>AddAkka</c> must configure its ActorSystem.</param>
    /// <param name="configuration">The layer's section.</param>
    /// <param name="name">The layer's name and the name of its options.</param>
    /// <exception cref="InvalidOperationException">A layer of that name is already configured.</exception>
    public static IServiceCollection AddRabbitMqChannelLayer<TKey>(this IServiceCollection services, IConfiguration configuration, string name) =>
        services.AddLayer(name, typeof(TKey), configuration, null);

    /// <summary>
    /// Adds a layer configured in code whose actor is also in the <see cref="ActorRegistry"/>
    /// under <typeparamref name="TKey"/>, for <c>IRequiredActor&lt;TKey&gt;</c>.
    /// </summary>
    /// <typeparam name="TKey">The registry key: a marker type of the app's.</typeparam>
    /// <param name="services">The app's services; <c>AddAkka</c> must configure its ActorSystem.</param>
    /// <param name="configure">Sets the options named <paramref name="name"/>.</param>
    /// <param name="name">The layer's name and the name of its options.</param>
    /// <exception cref="InvalidOperationException">A layer of that name is already configured.</exception>
    public static IServiceCollection AddRabbitMqChannelLayer<TKey>(this IServiceCollection services, Action<RabbitMqChannelLayerOptions> configure, string name) =>
        services.AddLayer(name, typeof(TKey), null, configure ?? throw new ArgumentNullException(nameof(configure)));

    /// <summary>
    /// Makes the app's layers injectable, as singletons: <see cref="IChannelLayers"/> (every layer,
    /// by name); each layer as <see cref="IChannelLayer"/> and <see cref="IActorChannelLayer"/> keyed
    /// by its name (<c>[FromKeyedServices("chat")]</c>, <c>GetRequiredKeyedService&lt;IChannelLayer&gt;("chat")</c>);
    /// and the default layer also unkeyed, and as <see cref="RabbitMqChannelLayer"/>.
    /// <see cref="AddRabbitMqChannelLayer(IServiceCollection, IConfiguration, string)"/> calls it;
    /// call it yourself only for layers configured on the Akka builder (<c>WithRabbitMqChannelLayer</c>).
    /// Calling it twice does nothing more.
    /// </summary>
    /// <remarks>
    /// The layers start when the host starts. Resolving one before that throws
    /// <see cref="InvalidOperationException"/> (rather than blocking a thread until a start that
    /// may itself be waiting on that thread): a hosted service that needs a layer at start-up
    /// awaits <see cref="IChannelLayers.GetAsync"/> or <c>IRequiredActor&lt;DefaultChannelLayer&gt;.GetAsync</c> instead.
    /// </remarks>
    public static IServiceCollection AddChannelLayers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(d => d.ServiceType == typeof(IChannelLayers))) return services;
        services.AddSingleton<IChannelLayers>(ChannelLayerRegistry.Of);
        services.AddKeyedSingleton<IActorChannelLayer>(KeyedService.AnyKey, (sp, key) => ChannelLayerRegistry.Of(sp).GetLayer(NameOf(key)));
        services.AddKeyedSingleton<IChannelLayer>(KeyedService.AnyKey, (sp, key) => sp.GetRequiredKeyedService<IActorChannelLayer>(key));
        services.AddSingleton(sp => sp.GetRequiredKeyedService<IActorChannelLayer>(DefaultChannelLayer.Name));
        services.AddSingleton<IChannelLayer>(sp => sp.GetRequiredService<IActorChannelLayer>());
        services.AddSingleton(sp => sp.GetRequiredKeyedService<IActorChannelLayer>(DefaultChannelLayer.Name) as RabbitMqChannelLayer
            ?? throw new InvalidOperationException(
                "The default channel layer is not a RabbitMqChannelLayer: ReplaceChannelLayers replaced it. Inject IChannelLayer or IActorChannelLayer."));
        return services;
    }

    /// <summary>
    /// Creates every layer of the app with <paramref name="factory"/> instead of connecting to
    /// RabbitMQ: for tests of an app's own wiring, typically the TestKit's in-memory broker,
    /// <c>services.ReplaceChannelLayers((system, name, options) =&gt; broker.CreateLayer(system))</c>.
    /// Call it after the app's own registrations (in <c>WebApplicationFactory.WithWebHostBuilder</c>'s
    /// <c>ConfigureTestServices</c>, or Akka.Hosting.TestKit's <c>ConfigureServices</c>); the last call wins.
    /// The options are still bound and validated.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="factory">Creates the layer called <c>name</c> in the app's ActorSystem.</param>
    public static IServiceCollection ReplaceChannelLayers(this IServiceCollection services, ChannelLayerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        services.RemoveAll<ChannelLayerFactory>();
        services.AddSingleton(factory);
        return services;
    }

    private static IServiceCollection AddLayer(this IServiceCollection services, string name, Type? registryKey,
        IConfiguration? configuration, Action<RabbitMqChannelLayerOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ChannelLayerHostingExtensions.ValidateName(name);
        if (services.Any(d => d.ServiceType == typeof(ChannelLayerDefinition) &&
                              string.Equals(((ChannelLayerDefinition)d.ImplementationInstance!).Name, name, StringComparison.OrdinalIgnoreCase)))
            throw new InvalidOperationException(
                $"A channel layer named '{name}' is already configured: AddRabbitMqChannelLayer was called twice with that name " +
                "(layer names ignore case). Give each layer its own name.");

        var options = services.AddOptions<RabbitMqChannelLayerOptions>(name);
        if (configuration is not null)
            options.Configure(o => ChannelLayerConfiguration.BindValues(configuration, o));
        else
            options.Configure(configure!);
        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<RabbitMqChannelLayerOptions>>(
            new ChannelLayerOptionsValidator(name, configuration is null ? null : ChannelLayerConfiguration.PathOf(configuration)));

        services.AddSingleton(new ChannelLayerDefinition(name, registryKey));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ChannelLayerStarter>());
        return services.AddChannelLayers();
    }

    private static string NameOf(object? key) =>
        key as string ?? throw new ArgumentException($"A channel layer is keyed by its name, a string; not by {key?.GetType().Name ?? "null"}.", nameof(key));
}
