using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace ChannelsRabbitMq.Akka.Samples.Compare.PubSub;

/// <summary>
/// The chat on Akka.Cluster: each server process is a cluster node (Akka.Remote's DotNetty TCP
/// transport on <c>Cluster:Port</c>, seed node <c>Cluster:Seed</c>), and a room is a
/// DistributedPubSub topic, as the Akka.NET documentation's "Distributed Publish Subscribe in
/// Cluster" shows: each websocket connection is an actor that sends <c>Subscribe(room, Self)</c>
/// to the mediator, and a message is <c>Publish(room, frame)</c>. The frame is the demo's JSON,
/// rendered once by the server that received it and published as a <c>byte[]</c> (Akka's built-in
/// byte-array serializer, so no JSON serializer runs between the nodes). Every cluster and
/// pub-sub setting is at its default (gossip-interval 1 s, failure detector acceptable
/// heartbeat pause 3 s, split-brain resolver keep-majority) except
/// <c>min-nr-of-members = 2</c>, which holds <c>GET /healthz</c> at 503 until both nodes are up.
/// </summary>
public static class PubSubChatApp
{
    /// <summary>The actor system's name (the same on every node of the cluster).</summary>
    public const string SystemName = "chat";

    /// <summary>Builds the app from command-line <paramref name="args"/>.</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var port = builder.Configuration.GetValue("Cluster:Port", 5757);
        var seed = builder.Configuration["Cluster:Seed"] ?? $"127.0.0.1:{port}";
        var minMembers = builder.Configuration.GetValue("Cluster:MinMembers", 2);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(new ServerName(builder.Configuration["Chat:ServerName"] is { Length: > 0 } n ? n : $"pubsub-{port}"));
        builder.Services.AddAkka(SystemName, akka =>
        {
            akka.ConfigureLoggers(loggers => loggers.AddLoggerFactory());
            akka.WithRemoting("127.0.0.1", port);
            akka.WithActorRefProvider(ProviderSelection.Cluster.Instance);
            akka.AddHocon($$"""
                akka.cluster.seed-nodes = ["akka.tcp://{{SystemName}}@{{seed}}"]
                akka.cluster.min-nr-of-members = {{minMembers}}
                akka.extensions = ["Akka.Cluster.Tools.PublishSubscribe.DistributedPubSubExtensionProvider, Akka.Cluster.Tools"]
                """, HoconAddMode.Prepend);
            // The modules' reference configurations, below everything else.
            akka.AddHocon(global::Akka.Configuration.ConfigurationFactory.FromResource<ClusterSettings>("Akka.Cluster.Configuration.Cluster.conf"), HoconAddMode.Append);
            akka.AddHocon(DistributedPubSub.DefaultConfig(), HoconAddMode.Append);
            akka.WithActors((system, registry) =>
            {
                registry.Register<Mediator>(DistributedPubSub.Get(system).Mediator);
                registry.Register<ConnectionActor.Supervisor>(system.ActorOf(Props.Create<ConnectionActor.Supervisor>(), "connections"));
            });
        });

        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.Map("/ws", PubSubSocket.HandleAsync);
        app.MapGet("/healthz", (ActorSystem system) =>
            Cluster.Get(system).SelfMember.Status == MemberStatus.Up
                ? Results.Ok("healthy")
                : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        return app;
    }

    /// <summary>The key of the DistributedPubSub mediator in the actor registry.</summary>
    public sealed class Mediator;
}

/// <summary>This server's name, shown next to the messages it received from their authors.</summary>
public sealed record ServerName(string Name);
