using Akka;
using Akka.Actor;
using Akka.Event;
using System.Net.WebSockets;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// One websocket connection: owns a channel of the layer, joins its room's group (both done by
/// <see cref="ChannelConsumerActor"/> before any other message is handled), group-sends what
/// the page says, and posts every message of the room to the socket's outbox.
/// </summary>
public sealed class ChatConnectionActor : ChannelConsumerActor
{
    private readonly string _room;
    private readonly string _group;
    private readonly string _user;
    private readonly ServerIdentity _server;
    private readonly ConnectionOutbox _outbox;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>The page said something.</summary>
    public sealed record Say(string Text);

    // Told to itself in PreStart: handled once the channel exists and the group is joined.
    private sealed class Joined
    {
        public static readonly Joined Instance = new();
    }

    /// <summary>A connection of <paramref name="user"/> to <paramref name="room"/>, writing to <paramref name="outbox"/>.</summary>
    public ChatConnectionActor(IActorChannelLayer layer, string room, string user, ServerIdentity server, ConnectionOutbox outbox)
        : base(layer, Rooms.Group(room))
    {
        _room = room;
        _group = Rooms.Group(room);
        _user = user;
        _server = server;
        _outbox = outbox;
    }

    /// <summary>The props of a connection actor.</summary>
    public static Props Props(IActorChannelLayer layer, string room, string user, ServerIdentity server, ConnectionOutbox outbox) =>
        global::Akka.Actor.Props.Create(() => new ChatConnectionActor(layer, room, user, server, outbox));

    /// <inheritdoc />
    protected override string ChannelPrefix => "ws";

    /// <inheritdoc />
    protected override void PreStart()
    {
        base.PreStart();
        // The base class holds every message back until the room's group is joined, so this
        // arrives just after: the page may now say something and everyone hears it.
        Self.Tell(Joined.Instance);
    }

    /// <inheritdoc />
    protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message)
    {
        if (!ChannelMessage.Is<ChatMessage>(message))
        {
            _log.Warning("Ignoring a message of type {0}", message.GetValueOrDefault(ChannelMessage.TypeKey));
            return;
        }
        // False: the socket is closing, or its client reads too slowly (the outbox then closed itself).
        if (!_outbox.TryPost(Frames.Message(ChannelMessage.To<ChatMessage>(message))))
            Context.Stop(Self);
    }

    /// <inheritdoc />
    protected override void OnOtherMessage(object message)
    {
        switch (message)
        {
            case Joined:
                _outbox.TryPost(Frames.Joined(_room, _user, _server));
                break;
            case Say say:
                // Ask-free: the layer's actor answers Done or Status.Failure to this actor.
                var chat = new ChatMessage(_room, _user, say.Text, _server.Name, DateTimeOffset.UtcNow);
                Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend(_group, ChannelMessage.From(chat)), Self);
                break;
            case Done:
                break;
            case Status.Failure failure:
                _log.Warning("A message to room {0} was not sent: {1}", _room, failure.Cause.Message);
                _outbox.TryPost(Frames.Error($"Your message was not sent: {failure.Cause.Message}"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        // The request closes the socket once the outbox is drained. If the request stopped this
        // actor, it closed the outbox first and its reason wins.
        _outbox.Close(WebSocketCloseStatus.InternalServerError, "the connection's actor stopped");
    }
}

/// <summary>
/// Parent of the connection actors. A connection that fails (its channel or group could not be
/// made: the layer is closing, say) is stopped, not restarted: its page reconnects if it wants.
/// </summary>
public sealed class ConnectionsSupervisor : ReceiveActor
{
    /// <summary>Start a connection actor; answered with its <see cref="IActorRef"/>.</summary>
    public sealed record Start(Props Props);

    /// <summary>Creates the supervisor.</summary>
    public ConnectionsSupervisor()
    {
        Receive<Start>(start => Sender.Tell(Context.ActorOf(start.Props)));
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
}
