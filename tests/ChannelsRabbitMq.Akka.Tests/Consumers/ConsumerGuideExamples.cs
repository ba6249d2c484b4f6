using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Tests.Consumers;

/// <summary>The typed consumer of docs/actors.md, compiled (DocSnippetSpecs checks the page shows it unchanged) and run by <see cref="ConsumerGuideSpecs"/>.</summary>
internal static class ConsumerGuideExamples
{
    // <snippet:typed-consumer>
    [ChannelMessageType("chat.message")]
    public sealed record ChatMessage(string Room, string User, string Text);

    public sealed class ChatConnection : ReceiveChannelConsumerActor
    {
        public ChatConnection(IActorChannelLayer layer, string room, IActorRef socket) : base(layer, "room-" + room)
        {
            ReceiveChannel<ChatMessage>(chat => socket.Tell(chat.Text));
            Receive<string>(text => Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend("room-" + room,
                ChannelMessage.From(new ChatMessage(room, "me", text)))));
        }
    }
    // </snippet:typed-consumer>
}
