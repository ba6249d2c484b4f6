using Microsoft.AspNetCore.SignalR;
using StackExchange.Redis;

namespace ChannelsRabbitMq.Akka.Samples.Compare.SignalR;

/// <summary>
/// The chat on SignalR, set up as the SignalR documentation recommends for scale-out
/// ("Redis backplane for ASP.NET Core SignalR scale-out"): <c>AddSignalR().AddStackExchangeRedis(…)</c>
/// with a channel prefix, one hub (<see cref="ChatHub"/>) at <c>/hub</c>, a SignalR group per
/// room. Every SignalR and StackExchange.Redis setting is left at its default (JSON hub protocol,
/// keep-alive 15 s, client timeout 30 s, one invocation at a time per client, no message
/// buffering). <c>GET /healthz</c> answers 200 once a publish through the backplane's Redis connection succeeds.
/// </summary>
public static class SignalRChatApp
{
    /// <summary>Builds the app from command-line <paramref name="args"/>; <c>Redis</c> is the StackExchange.Redis configuration string.</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var redis = builder.Configuration["Redis"] ?? "127.0.0.1:5750";
        builder.Services.AddSingleton<ServerName>();
        builder.Services.AddSignalR().AddStackExchangeRedis(redis, options =>
        {
            // The documentation's advice when several apps share one Redis.
            options.Configuration.ChannelPrefix = RedisChannel.Literal("chat");
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        var app = builder.Build();
        app.UseWebSockets();
        app.MapHub<ChatHub>("/hub");
        app.MapGet("/healthz", async (IServiceProvider services) =>
        {
            // The backplane connects to Redis on first use: a publish to a group nobody is in connects it.
            var hub = services.GetRequiredService<IHubContext<ChatHub>>();
            try
            {
                await hub.Clients.Group("healthz").SendAsync("healthz").WaitAsync(TimeSpan.FromSeconds(2));
                return Results.Ok("healthy");
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }
        });
        return app;
    }
}

/// <summary>This server's name, as the demo tags messages: <c>Chat:ServerName</c>, else <c>signalr-{port}</c>.</summary>
public sealed class ServerName(IConfiguration configuration)
{
    /// <summary>The name.</summary>
    public string Name { get; } = configuration["Chat:ServerName"] is { Length: > 0 } name
        ? name
        : "signalr-" + new Uri((configuration["urls"] ?? "http://localhost:0").Split(';')[0].Replace("*", "localhost").Replace("+", "localhost")).Port;
}

/// <summary>
/// The hub: <c>/hub?room=…&amp;user=…</c> joins the room's group on connect and gets
/// <c>joined</c>; <c>Send(text)</c> sends <c>message</c> to the room's group, on every server
/// through Redis. The payloads are the demo's frames (<c>{"type": "joined" | "message", …}</c>).
/// </summary>
public sealed class ChatHub(ServerName server) : Hub
{
    /// <summary>Joins the room named in the query string.</summary>
    public override async Task OnConnectedAsync()
    {
        var query = Context.GetHttpContext()?.Request.Query;
        var room = query?["room"].ToString() is { Length: > 0 } r ? r : "lobby";
        var user = query?["user"].ToString() is { Length: > 0 } u ? u : "guest";
        if (!IsName(room) || !IsName(user))
        {
            Context.Abort();
            return;
        }
        Context.Items["room"] = room;
        Context.Items["user"] = user;
        await Groups.AddToGroupAsync(Context.ConnectionId, room);
        await Clients.Caller.SendAsync("joined", new { type = "joined", room, user, server = server.Name });
    }

    /// <summary>Says <paramref name="text"/> in the caller's room.</summary>
    public Task Send(string text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 2000)
            return Clients.Caller.SendAsync("error", new { type = "error", error = "Send a text of 1 to 2000 characters." });
        var room = (string)Context.Items["room"]!;
        var user = (string)Context.Items["user"]!;
        return Clients.Group(room).SendAsync("message",
            new { type = "message", room, user, text, server = server.Name, sentAt = DateTimeOffset.UtcNow });
    }

    private static bool IsName(string name) =>
        name.Length is > 0 and <= 40 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
