using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>A layer configured with <c>AddRabbitMqChannelLayer</c>: its name, and its <see cref="ActorRegistry"/> key if it has one.</summary>
internal sealed record ChannelLayerDefinition(string Name, Type? RegistryKey);

/// <summary>
/// Starts the layers configured with <c>AddRabbitMqChannelLayer</c> when the host starts, with
/// their named options (already validated by <c>ValidateOnStart</c>), and puts their actors in
/// the <see cref="ActorRegistry"/>. It only needs the ActorSystem, which DI creates on first use,
/// so it works whether it runs before or after Akka.Hosting's own hosted service.
/// </summary>
internal sealed class ChannelLayerStarter(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var definitions = services.GetServices<ChannelLayerDefinition>().ToList();
        if (definitions.Count == 0) return Task.CompletedTask;
        var registry = ChannelLayerRegistry.Of(services);
        var options = services.GetRequiredService<IOptionsMonitor<RabbitMqChannelLayerOptions>>();
        var factory = services.GetService<ChannelLayerFactory>();
        var actors = services.GetRequiredService<ActorRegistry>();
        foreach (var definition in definitions)
        {
            var layer = registry.Start(definition.Name, options.Get(definition.Name), factory);
            ChannelLayerRegistry.Register(actors, definition.Name, definition.RegistryKey, layer);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask; // CoordinatedShutdown closes the layers
}
