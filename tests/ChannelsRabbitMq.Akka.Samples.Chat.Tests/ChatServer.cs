using System.Diagnostics;
using Akka.Actor;
using ChannelsRabbitMq.Akka.Hosting;
using ChannelsRabbitMq.Akka.Samples.Chat;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

// One thing at a time: two browsers, two servers and a broker share two cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>
/// One chat server in this process (the app of the demo, as <c>ChatApp.Create</c> builds it),
/// listening on a free port of 127.0.0.1, on the project's test broker.
/// </summary>
public sealed class ChatServer : IAsyncDisposable
{
    private ChatServer(WebApplication app, string name, Uri url)
    {
        App = app;
        Name = name;
        Url = url;
    }

    /// <summary>The running app.</summary>
    public WebApplication App { get; }

    /// <summary>The server's name, as the page shows it.</summary>
    public string Name { get; }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The server's port.</summary>
    public int Port => Url.Port;

    /// <summary>Its channel layer, the default one (a <see cref="RabbitMqChannelLayer"/> unless the test replaced the layers).</summary>
    public IActorChannelLayer Layer => App.Services.GetRequiredKeyedService<IActorChannelLayer>(DefaultChannelLayer.Name);

    /// <summary>Its ActorSystem.</summary>
    public ActorSystem System => App.Services.GetRequiredService<ActorSystem>();

    /// <summary>Starts a server named <paramref name="name"/>; returns once its layer is connected.</summary>
    public static async Task<ChatServer> StartAsync(string name, Action<WebApplicationBuilder>? configure = null)
    {
        var app = ChatApp.Create(
            [
                "--urls", "http://127.0.0.1:0",
                "--Chat:ServerName", name,
                "--ChannelLayers:default:Host", TestBroker.Url,
                "--Logging:LogLevel:Default", "Warning",
                "--Logging:LogLevel:Microsoft.Hosting.Lifetime", "Warning",
            ],
            configure);
        await app.StartAsync().WaitAsync(Eventually.Timeout);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var server = new ChatServer(app, name, new Uri(address.TrimEnd('/') + "/"));
        var layer = server.Layer;
        await Eventually.Until(() => layer.GetStatistics().Connected, $"the layer of {name} is connected");
        return server;
    }

    /// <summary>Stops the host (CoordinatedShutdown closes the layer) within <see cref="Eventually.Timeout"/>.</summary>
    public async Task StopAsync()
    {
        var watch = Stopwatch.StartNew();
        await App.StopAsync().WaitAsync(Eventually.Timeout);
        await System.WhenTerminated.WaitAsync(Eventually.Timeout - watch.Elapsed);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await App.DisposeAsync();
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Url}";
}

/// <summary>Two servers on one broker, as the demo runs them: <c>alpha</c> and <c>bravo</c>.</summary>
public sealed class TwoServers : IAsyncLifetime
{
    /// <summary>The first server.</summary>
    public ChatServer Alpha { get; private set; } = null!;

    /// <summary>The second server.</summary>
    public ChatServer Bravo { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Alpha = await ChatServer.StartAsync("alpha");
        Bravo = await ChatServer.StartAsync("bravo");
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        // Both stop cleanly: a failure here fails the collection's run.
        var alpha = Alpha?.DisposeAsync().AsTask() ?? Task.CompletedTask;
        var bravo = Bravo?.DisposeAsync().AsTask() ?? Task.CompletedTask;
        await Task.WhenAll(alpha, bravo);
    }
}

/// <summary>The tests that share <see cref="TwoServers"/>.</summary>
[CollectionDefinition(Name)]
public sealed class TwoServersCollection : ICollectionFixture<TwoServers>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "two chat servers";
}

/// <summary>Waits on conditions, never on the clock alone.</summary>
public static class Eventually
{
    /// <summary>How long any condition may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails after <see cref="Timeout"/>.</summary>
    public static async Task Until(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (!condition())
        {
            if (watch.Elapsed > Timeout) throw new TimeoutException($"Timed out after {Timeout.TotalSeconds} s waiting until {what}.");
            await timer.WaitForNextTickAsync();
        }
    }
}
