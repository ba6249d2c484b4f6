using System.Text.Json;
using Akka;
using Akka.Actor;
using Akka.Event;
using ChannelsRabbitMq.Akka.WebSockets;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// One websocket connection (a <see cref="WebSocketConsumerActor"/>, run by
/// <see cref="WebSocketBridge"/>): owns a channel of the layer, joins its room's group (both
/// done before any other message is handled), group-sends what the page says, and posts every
/// chat message of the room to the socket's outbox.
/// </summary>
public sealed class ChatConnectionActor : WebSocketConsumerActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _room;
    private readonly string _user;
    private readonly ServerIdentity _server;

    /// <summary>The page said something.</summary>
    public sealed record Say(string Text);

    // Told to itself in PreStart: handled once the channel exists and the group is joined.
    private sealed class Joined
    {
        public static readonly Joined Instance = new();
    }

    /// <summary>A connection of <paramref name="user"/> to <paramref name="room"/>, writing to <paramref name="outbox"/>.</summary>
    public ChatConnectionActor(IActorChannelLayer layer, string room, string user, ServerIdentity server, WebSocketOutbox outbox)
        : base(layer, outbox, Rooms.Group(room))
    {
        _room = room;
        _user = user;
        _server = server;
        // A chat message of the room: to the page. False: the socket is closing, or its client
        // reads too slowly (the outbox then closed itself).
        ReceiveChannel<ChatMessage>(chat =>
        {
            if (!Outbox.TryPost(Frames.Message(chat))) Context.Stop(Self);
        });
        Receive<Joined>(_ => Outbox.TryPost(Frames.Joined(room, user, server)));
        Receive<Say>(say => SayInRoom(say.Text));
        Receive<Done>(_ => { });
        Receive<Status.Failure>(failure =>
        {
            _log.Warning("A message to room {0} was not sent: {1}", room, failure.Cause.Message);
            Outbox.TryPost(Frames.Error($"Your message was not sent: {failure.Cause.Message}"));
        });
    }

    /// <summary>The actor's props.</summary>
    public static Props Props(IActorChannelLayer layer, string room, string user, ServerIdentity server, WebSocketOutbox outbox) =>
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

    /// <summary>What the page sent: <c>{"text": "…"}</c> is said in the room; anything else gets an error frame.</summary>
    protected override void OnFrame(WebSocketFrame frame)
    {
        if (!frame.IsText)
        {
            Outbox.TryPost(Frames.Error("Send text frames: {\"text\": \"…\"}."));
            return;
        }
        PostedMessage? posted = null;
        try
        {
            posted = JsonSerializer.Deserialize<PostedMessage>(frame.Data, Frames.Json);
        }
        catch (JsonException)
        {
        }
        if (Rooms.TextProblem(posted?.Text) is { } problem)
            Outbox.TryPost(Frames.Error($"Send {{\"text\": \"…\"}}: {problem}."));
        else
            SayInRoom(posted!.Text!);
    }

    // Ask-free: the layer's actor answers Done or Status.Failure to this actor.
    private void SayInRoom(string text)
    {
        var chat = new ChatMessage(_room, _user, text, _server.Name, DateTimeOffset.UtcNow);
        Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend(Rooms.Group(_room), ChannelMessage.From(chat)), Self);
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
