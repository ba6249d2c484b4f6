using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

// The sample of docs/testing.md (kept identical to it by DocSnippetSpecs).
// <snippet:chat-connection-actor>
/// <summary>
/// One websocket connection of a chat, as an actor: it joins its room's group on start, pushes
/// every chat message of the room to its socket, and posts what its user types to the room.
/// </summary>
public sealed class ChatConnectionActor : ChannelConsumerActor
{
    private readonly string _room;
    private readonly IActorRef _socket;

    public ChatConnectionActor(IActorChannelLayer layer, string room, IActorRef socket)
        : base(layer, RoomGroup(room))
    {
        _room = room;
        _socket = socket;
    }

    public static string RoomGroup(string room) => "chat-" + room;

    /// <summary>From the socket: the user typed a line.</summary>
    public sealed record Typed(string Text);

    /// <summary>To the socket: a line to show.</summary>
    public sealed record Push(string Text);

    /// <summary>Answered with this connection's channel, once it has joined its room.</summary>
    public sealed record GetChannel
    {
        public static GetChannel Instance { get; } = new();
    }

    protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message)
    {
        if (message.TryGetValue("type", out var type) && type is "chat.message")
            _socket.Tell(new Push((string)message["text"]!));
    }

    protected override void OnOtherMessage(object message)
    {
        switch (message)
        {
            case Typed typed:
                var chat = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = typed.Text };
                // RunTask: lines go out in order, and wait for the layer while it reconnects.
                RunTask(() => Layer.GroupSendAsync(RoomGroup(_room), chat));
                break;
            case GetChannel:
                Sender.Tell(ChannelName);
                break;
            default:
                Unhandled(message);
                break;
        }
    }
}
// </snippet:chat-connection-actor>
