using System.Runtime.CompilerServices;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Adds a RabbitMQ channel layer on the Akka.Hosting builder:
/// <c>services.AddAkka("app", akka =&gt; akka.WithRabbitMqChannelLayer(configuration.GetSection("ChannelLayers:default")))</c>.
/// The layer is in the <see cref="ActorRegistry"/> and the <see cref="ChannelLayerRegistry"/>, not in DI:
/// Akka.Hosting runs these builder methods once the service provider exists, too late to register
/// services. Apps that inject layers use <see cref="ChannelLayerServiceCollectionExtensions.AddRabbitMqChannelLayer(Microsoft.Extensions.DependencyInjection.IServiceCollection, IConfiguration, string)"/>
/// instead (one call, with named options), or also call <see cref="ChannelLayerServiceCollectionExtensions.AddChannelLayers"/>.
/// </summary>
/// <remarks>
/// The settings are checked while the host starts (when Akka.Hosting runs the builder, before the
/// ActorSystem starts): an invalid value fails the start with an exception naming the option (or
/// the configuration key). The layer itself starts with the ActorSystem's actors; the default
/// layer's actor is then in the <see cref="ActorRegistry"/> under <see cref="DefaultChannelLayer"/>.
/// Each layer closes in CoordinatedShutdown's <c>service-stop</c> phase: pending receives end with
/// <see cref="ChannelLayerClosedException"/> and the connection closes before the ActorSystem terminates.
/// </remarks>
public static class ChannelLayerHostingExtensions
{
    // The layers configured on each builder, so that a name is refused the second time and
    // every name reaches the ActorSystem in one Setup.
    private static readonly ConditionalWeakTable<AkkaConfigurationBuilder, ChannelLayersSetup> Setups = new();

    /// <summary>Adds a layer configured in code: <c>akka.WithRabbitMqChannelLayer(o =&gt; o.Host = "amqp://…")</c>.</summary>
    /// <param name="builder">The Akka.Hosting builder.</param>
    /// <param name="configure">Sets the options, starting from the defaults.</param>
    /// <param name="name">The layer's name; the default layer is <see cref="DefaultChannelLayer.Name"/>.</param>
    /// <exception cref="InvalidOperationException">A setting is invalid, or a layer of that name is already configured.</exception>
    public static AkkaConfigurationBuilder WithRabbitMqChannelLayer(this AkkaConfigurationBuilder builder,
        Action<RabbitMqChannelLayerOptions> configure, string name = DefaultChannelLayer.Name) =>
        builder.WithLayer(Configured(configure), name, registryKey: null, configurationPath: null);

    /// <summary>Adds a layer with these options (the layer keeps the object: do not change it afterwards).</summary>
    /// <param name="builder">The Akka.Hosting builder.</param>
    /// <param name="options">The layer's options.</param>
    /// <param name="name">The layer's name; the default layer is <see cref="DefaultChannelLayer.Name"/>.</param>
    /// <exception cref="InvalidOperationException">A setting is invalid, or a layer of that name is already configured.</exception>
    public static AkkaConfigurationBuilder WithRabbitMqChannelLayer(this AkkaConfigurationBuilder builder,
        RabbitMqChannelLayerOptions options, string name = DefaultChannelLayer.Name) =>
        builder.WithLayer(options, name, registryKey: null, configurationPath: null);

    /// <summary>
    /// Adds a layer configured in code whose actor is also in the <see cref="ActorRegistry"/> under
    /// <typeparamref name="TKey"/>, for <c>IRequiredActor&lt;TKey&gt;</c>.
    /// </summary>
    /// <typeparam name="TKey">The registry key: a marker type of the app's.</typeparam>
    /// <param name="builder">The Akka.Hosting builder.</param>
    /// <param name="configure">Sets the options, starting from the defaults.</param>
    /// <param name="name">The layer's name.</param>
    /// <exception cref="InvalidOperationException">A setting is invalid, or a layer of that name is already configured.</exception>
    public static AkkaConfigurationBuilder WithRabbitMqChannelLayer<TKey>(this AkkaConfigurationBuilder builder,
        Action<RabbitMqChannelLayerOptions> configure, string name) =>
        builder.WithLayer(Configured(configure), name, typeof(TKey), configurationPath: null);

    private static AkkaConfigurationBuilder WithLayer(this AkkaConfigurationBuilder builder,
        RabbitMqChannelLayerOptions options, string name, Type? registryKey, string? configurationPath)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        ValidateName(name);
        if (ChannelLayerOptionsValidator.Problem(options, configurationPath, name) is { } problem)
            throw new InvalidOperationException(problem);

        var setup = Setups.GetValue(builder, b =>
        {
            var created = new ChannelLayersSetup();
            b.AddSetup(created);
            return created;
        });
        setup.Add(name, options);

        return builder.WithActors((system, registry, resolver) =>
        {
            var layer = ChannelLayerRegistry.For(system).Start(name, resolver.GetService<ChannelLayerFactory>());
            ChannelLayerRegistry.Register(registry, name, registryKey, layer);
        });
    }

    /// <summary>
    /// Adds a layer configured by a section such as <c>"ChannelLayers:default"</c> of
    /// appsettings.json; see <see cref="ChannelLayerConfiguration"/> for the keys and formats.
    /// </summary>
    /// <param name="builder">The Akka.Hosting builder.</param>
    /// <param name="configuration">The layer's section: <c>{ "Host": "amqp://…", "Expiry": "60", "Tls": { … } }</c>.</param>
    /// <param name="name">The layer's name; the default layer is <see cref="DefaultChannelLayer.Name"/>.</param>
    /// <exception cref="InvalidOperationException">
    /// The section is missing, a value is invalid (the message starts with its key), or a layer of that name is already configured.
    /// </exception>
    public static AkkaConfigurationBuilder WithRabbitMqChannelLayer(this AkkaConfigurationBuilder builder,
        IConfiguration configuration, string name = DefaultChannelLayer.Name)
    {
        var options = new RabbitMqChannelLayerOptions();
        ChannelLayerConfiguration.BindValues(configuration, options);
        return builder.WithLayer(options, name, registryKey: null, configurationPath: ChannelLayerConfiguration.PathOf(configuration));
    }

    private static RabbitMqChannelLayerOptions Configured(Action<RabbitMqChannelLayerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new RabbitMqChannelLayerOptions();
        configure(options);
        return options;
    }

    internal static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A channel layer's name must not be empty.", nameof(name));
    }
}
