using System.Net;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using ChannelsRabbitMq.Akka.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// The chat server: Akka.Hosting with the RabbitMQ channel layer, the page (<c>GET /</c>), its
/// websocket (<c>GET /ws?room=…&amp;user=…</c>), <c>POST /rooms/{room}/messages</c>, the room's
/// messages as server-sent events (<c>GET /rooms/{room}/events</c>) and <c>GET /healthz</c>. Configuration: <c>ChannelLayers:default</c> (see docs/hosting.md),
/// <c>Chat:ServerName</c>, and ASP.NET Core's own (<c>--urls http://localhost:5101</c>).
/// </summary>
public static class ChatApp
{
    /// <summary>How long the HTTP endpoint waits for the broker to confirm a message.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Builds the app from command-line <paramref name="args"/>. <paramref name="configure"/>
    /// runs after the app's own services are registered (tests add configuration or replace a
    /// service there).
    /// </summary>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json is next to the assembly: the app runs from any working directory.
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.Services.AddAkka("chat", akka =>
        {
            // Akka's log, the layer's included, goes to the app's ILoggerFactory (docs/hosting.md).
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            });
            akka.WithActors((system, registry) =>
                registry.Register<ConnectionsSupervisor>(system.ActorOf(Props.Create<ConnectionsSupervisor>(), "connections")));
        });
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));
        builder.Services.AddHealthChecks().AddChannelLayer();
        builder.Services.AddSingleton<ServerIdentity>();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });

        app.MapGet("/", (ServerIdentity server) => Results.Content(ChatPage.Render(server), "text/html; charset=utf-8"));
        app.Map("/ws", ChatSocket.HandleAsync);
        app.MapPost("/rooms/{room}/messages", PostMessageAsync);
        app.MapGet("/rooms/{room}/events", RoomEvents);
        // Healthy (200) once the layer is connected; 503 while it is not.
        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        return app;
    }

    /// <summary>
    /// <c>POST /rooms/{room}/messages</c> with <c>{"text": "…"}</c> (and optionally <c>"user"</c>):
    /// group-sends to the room with <c>Ask</c>. 202 once the broker has it; 400 for bad input;
    /// 503 when the layer refuses it (<see cref="ChannelFullException"/>) or is closing.
    /// </summary>
    public static async Task<IResult> PostMessageAsync(
        string room, HttpRequest request, IActorChannelLayer layer, ServerIdentity server, CancellationToken cancellationToken)
    {
        if (!Rooms.IsValidRoom(room))
            return BadRequest($"A room name is 1 to {Rooms.MaxNameLength} letters, digits, '-' or '_'.");
        PostedMessage? posted;
        try
        {
            // Any content type: `curl -d '{"text":"hi"}' …` sends a form content type.
            posted = await JsonSerializer.DeserializeAsync<PostedMessage>(request.Body, Frames.Json, cancellationToken);
        }
        catch (JsonException e)
        {
            return BadRequest($"The body is not JSON of the form {{\"text\": \"…\"}}: {e.Message}");
        }
        if (Rooms.TextProblem(posted?.Text) is { } problem)
            return BadRequest($"The body must be {{\"text\": \"…\"}}: {problem}.");
        var user = posted!.User ?? "http";
        if (!Rooms.IsValidUser(user))
            return BadRequest($"A user name is 1 to {Rooms.MaxNameLength} letters, digits, '-' or '_'.");

        var message = ChannelMessage.From(new ChatMessage(room, user, posted.Text!, server.Name, DateTimeOffset.UtcNow));
        try
        {
            await layer.Actor.Ask<Done>(new ChannelLayerProtocol.GroupSend(Rooms.Group(room), message), SendTimeout, cancellationToken);
            return Results.Accepted(value: new { room, server = server.Name });
        }
        catch (ChannelFullException)
        {
            // Nobody is reading the room's queue fast enough; the client may retry later.
            return Unavailable("The room is full; try again later.");
        }
        catch (ChannelLayerClosedException)
        {
            return Unavailable("The server is shutting down.");
        }
        catch (AskTimeoutException)
        {
            return Unavailable("The broker did not confirm the message in time.");
        }
        catch (Exception e) when (e is ArgumentException or MessageTooLargeException)
        {
            return BadRequest(e.Message);
        }
    }

    /// <summary>
    /// <c>GET /rooms/{room}/events</c>: the room's messages as server-sent events, from the moment
    /// the request is made until the client goes away — first a <c>joined</c> event once this
    /// request's channel is in the room's group, then a <c>message</c> event per message (the
    /// websocket's message frame as JSON). Built on <c>ReadAllAsync</c>: a channel of its own,
    /// left and forgotten when the request ends.
    /// </summary>
    public static IResult RoomEvents(string room, IChannelLayer layer, ServerIdentity server, CancellationToken cancellationToken) =>
        Rooms.IsValidRoom(room)
            ? TypedResults.ServerSentEvents(RoomEventsAsync(room, layer, server, cancellationToken))
            : BadRequest($"A room name is 1 to {Rooms.MaxNameLength} letters, digits, '-' or '_'.");

    private static async IAsyncEnumerable<SseItem<JsonElement>> RoomEventsAsync(string room, IChannelLayer layer, ServerIdentity server,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = await layer.NewChannelAsync("sse", cancellationToken);
        var group = Rooms.Group(room);
        await layer.GroupAddAsync(group, channel, cancellationToken);
        try
        {
            yield return Event("joined", JsonSerializer.SerializeToUtf8Bytes(new { room, server = server.Name }, Frames.Json));
            await foreach (var message in layer.ReadAllAsync(channel, cancellationToken))
            {
                if (ChannelMessage.Is<ChatMessage>(message))
                    yield return Event("message", Frames.Message(ChannelMessage.To<ChatMessage>(message)));
            }
        }
        finally
        {
            // The client went away (or the server stops): nobody reads this channel any more.
            try
            {
                await layer.GroupDiscardAsync(group, channel, CancellationToken.None);
            }
            catch (ChannelLayerClosedException)
            {
                // The server stops: the layer's queue, and so its bindings, go with it.
            }
        }
    }

    private static SseItem<JsonElement> Event(string type, byte[] json) => new(JsonDocument.Parse(json).RootElement, type);

    private static IResult BadRequest(string title) => Results.Problem(title: title, statusCode: StatusCodes.Status400BadRequest);

    private static IResult Unavailable(string title) =>
        Results.Problem(title: title, statusCode: StatusCodes.Status503ServiceUnavailable,
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = 1 });
}

/// <summary>The page: Page/index.html, embedded in the assembly, with this server's name filled in.</summary>
public static class ChatPage
{
    private static readonly Lazy<string> Template = new(() =>
    {
        using var stream = typeof(ChatPage).Assembly.GetManifestResourceStream("ChatPage.html")
            ?? throw new InvalidOperationException("The page is not embedded (ChatPage.html).");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The page as served by <paramref name="server"/>.</summary>
    public static string Render(ServerIdentity server) =>
        Template.Value.Replace("{{SERVER}}", WebUtility.HtmlEncode(server.Name), StringComparison.Ordinal)
            .Replace("{{PORT}}", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
