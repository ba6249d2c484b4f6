using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;

namespace ChannelsRabbitMq.Akka.Samples.Compare.PubSub;

/// <summary>
/// One websocket connection: subscribes itself to its room's topic, posts <c>joined</c> once the
/// mediator acknowledges, publishes what the client says, and posts every frame of the topic to
/// the socket's outbox (bounded like the demo's: a client that falls 1,000 frames behind is
/// disconnected).
/// </summary>
public sealed class ConnectionActor : ReceiveActor
{
    /// <summary>What the client said.</summary>
    public sealed record Say(string Text);

    /// <summary>Starts connection actors and stops one that fails.</summary>
    public sealed class Supervisor : ReceiveActor
    {
        /// <summary>Start one; the reply is its <see cref="IActorRef"/>.</summary>
        public sealed record Start(Props Props);

        /// <summary>A supervisor.</summary>
        public Supervisor() => Receive<Start>(start => Sender.Tell(Context.ActorOf(start.Props)));

        /// <inheritdoc />
        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly IActorRef _mediator;
    private readonly string _room;

    /// <summary>A connection of <paramref name="user"/> in <paramref name="room"/>.</summary>
    public ConnectionActor(IActorRef mediator, string room, string user, ServerName server, ChannelWriter<byte[]> outbox)
    {
        _mediator = mediator;
        _room = room;
        Receive<SubscribeAck>(_ =>
            outbox.TryWrite(JsonSerializer.SerializeToUtf8Bytes(new { type = "joined", room, user, server = server.Name }, Json)));
        Receive<Say>(say => _mediator.Tell(new Publish(room, JsonSerializer.SerializeToUtf8Bytes(
            new { type = "message", room, user, text = say.Text, server = server.Name, sentAt = DateTimeOffset.UtcNow }, Json))));
        Receive<byte[]>(frame =>
        {
            if (!outbox.TryWrite(frame)) Context.Stop(Self);
        });
    }

    /// <summary>Props of a connection actor.</summary>
    public static Props Props(IActorRef mediator, string room, string user, ServerName server, ChannelWriter<byte[]> outbox) =>
        global::Akka.Actor.Props.Create(() => new ConnectionActor(mediator, room, user, server, outbox));

    /// <inheritdoc />
    protected override void PreStart() => _mediator.Tell(new Subscribe(_room, Self));

    /// <inheritdoc />
    protected override void PostStop() => _mediator.Tell(new Unsubscribe(_room, Self));
}
