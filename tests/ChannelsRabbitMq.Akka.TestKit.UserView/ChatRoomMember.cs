using Akka.Actor;
using ChannelsRabbitMq.Akka;

namespace ChatApp;

/// <summary>
/// The application's actor under test: a member of a chat room, written as a ReceiveActor. It
/// joins its room's group, shows the room's lines on its screen, posts what its user types, and
/// answers who it is.
/// </summary>
public sealed class ChatRoomMember : ReceiveChannelConsumerActor
{
    public static string RoomGroup(string room) => "room-" + room;

    public sealed record Typed(string Text);

    public sealed record Shown(string Text);

    public sealed class WhoAmI
    {
        public static WhoAmI Instance { get; } = new();
    }

    private readonly IActorRef _screen;

    public ChatRoomMember(IActorChannelLayer layer, string room, IActorRef screen) : base(layer, RoomGroup(room))
    {
        _screen = screen;
        Receive<Typed>(typed => Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend(RoomGroup(room),
            new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = typed.Text })));
        Receive<WhoAmI>(_ => Sender.Tell(ChannelName));
    }

    protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message) =>
        _screen.Tell(new Shown((string)message["text"]!));
}
