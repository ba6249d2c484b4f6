using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelsRabbitMq.Akka.Hosting.Tests.Docs;

/// <summary>
/// The code of docs/hosting.md and of the README's hosting part, compiled here;
/// <see cref="DocSnippetSpecs"/> checks that the pages show it unchanged.
/// </summary>
internal static class HostingSnippets
{
    public static void Program(string[] args)
    {
        // <snippet:hosting-program>
        var builder = WebApplication.CreateBuilder(args);

        builder.Services.AddAkka("chat", akka => akka.ConfigureLoggers(loggers =>
        {
            // Akka's log, the layer's included, goes to the app's ILoggerFactory (console, Serilog, …).
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        }));
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));
        builder.Services.AddHealthChecks().AddChannelLayer();

        var app = builder.Build();
        app.MapHealthChecks("/healthz");
        app.MapPost("/notify/{channel}", async (string channel, IChannelLayer layer) =>
        {
            await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "notify" });
            return Results.Accepted();
        });
        app.Run();
        // </snippet:hosting-program>
    }

    public static async Task BeforeStart(IChannelLayers layers, IRequiredActor<DefaultChannelLayer> requiredLayer, CancellationToken stoppingToken)
    {
        // <snippet:hosting-before-start>
        var layer = await layers.GetAsync("default", stoppingToken);            // IChannelLayers
        var actor = await requiredLayer.GetAsync(stoppingToken);                 // IRequiredActor<DefaultChannelLayer>
        // </snippet:hosting-before-start>
        GC.KeepAlive((layer, actor));
    }

    public static void Readme(WebApplicationBuilder builder)
    {
        // <snippet:readme-hosting>
        builder.Services.AddAkka("chat", akka => akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();   // Akka's log, the layer's included, to the app's ILoggerFactory
        }));
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));

        // appsettings.json: { "ChannelLayers": { "default": { "Host": "amqp://guest:guest@127.0.0.1/asgi" } } }
        // then inject IChannelLayer, [FromKeyedServices("default")] IChannelLayer or IRequiredActor<DefaultChannelLayer>
        // </snippet:readme-hosting>
    }

    public static void PostConfigure(WebApplicationBuilder builder)
    {
        // <snippet:hosting-post-configure>
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));
        builder.Services.PostConfigure<RabbitMqChannelLayerOptions>(DefaultChannelLayer.Name,
            options => options.QueueName = $"channels_{Environment.MachineName}");
        // </snippet:hosting-post-configure>
    }

    public static void NamedLayers(WebApplicationBuilder builder)
    {
        // <snippet:hosting-named-layers>
        // "ChannelLayers": { "default": { … }, "notifications": { … } }
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));
        builder.Services.AddRabbitMqChannelLayer<NotificationsLayer>(
            builder.Configuration.GetSection("ChannelLayers:notifications"), "notifications");

        var app = builder.Build();
        app.MapPost("/notify/{channel}", async (string channel, [FromKeyedServices("notifications")] IChannelLayer notifications) =>
        {
            await notifications.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "notify" });
            return Results.Accepted();
        });
        app.MapPost("/ping/{channel}", async (string channel, IRequiredActor<NotificationsLayer> notifications, CancellationToken ct) =>
        {
            var actor = await notifications.GetAsync(ct);
            await actor.Ask<Done>(new ChannelLayerProtocol.Send(channel, new Dictionary<string, object?> { ["type"] = "ping" }),
                TimeSpan.FromSeconds(5), ct);
            return Results.Accepted();
        });
        // </snippet:hosting-named-layers>
    }

    public static void AkkaBuilder(WebApplicationBuilder builder)
    {
        // <snippet:hosting-akka-builder>
        builder.Services.AddAkka("chat", akka => akka
            .WithRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default")));
        builder.Services.AddChannelLayers();   // only to inject the layer
        // </snippet:hosting-akka-builder>
    }

    public static void Ask(WebApplication app)
    {
        // <snippet:hosting-ask>
        app.MapPost("/channels/{channel}/messages", async (
            string channel, ChatMessage body, IRequiredActor<DefaultChannelLayer> layer, CancellationToken ct) =>
        {
            var actor = await layer.GetAsync(ct);
            var message = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = body.Text };
            try
            {
                await actor.Ask<Done>(new ChannelLayerProtocol.Send(channel, message), TimeSpan.FromSeconds(5), ct);
                return Results.Accepted();
            }
            catch (ChannelFullException)
            {
                // The consumer is not keeping up; the client may retry later.
                return Results.Problem(title: "The channel is full.", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            catch (ChannelLayerClosedException)
            {
                // The app is shutting down.
                return Results.Problem(title: "Shutting down.", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                // Not a valid channel name (ArgumentException), or a normal channel without "!"
                // (NotSupportedException: this layer has process-specific channels only).
                return Results.Problem(title: e.Message, statusCode: StatusCodes.Status400BadRequest);
            }
        });
        // </snippet:hosting-ask>
    }

    public static void Health(WebApplicationBuilder builder, WebApplication app)
    {
        // <snippet:hosting-health>
        builder.Services.AddHealthChecks()
            .AddChannelLayer()                                                    // the default layer, "channel-layer"
            .AddChannelLayer("notifications", unhealthyAfter: TimeSpan.FromMinutes(2), tags: ["ready"]);

        app.MapHealthChecks("/healthz/ready", new() { Predicate = check => check.Tags.Contains("ready") });
        // </snippet:hosting-health>
    }
}

// <snippet:hosting-marker>
/// <summary>The ActorRegistry key of the "notifications" layer: never instantiated.</summary>
public sealed class NotificationsLayer;
// </snippet:hosting-marker>

/// <summary>The body of the Ask example's endpoint.</summary>
internal sealed record ChatMessage(string Text);
