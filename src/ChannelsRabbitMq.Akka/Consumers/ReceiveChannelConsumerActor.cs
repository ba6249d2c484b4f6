using Akka.Actor;
using Akka.Event;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// <see cref="ChannelConsumerActor"/> for a <see cref="ReceiveActor"/>: an actor that owns one
/// channel and belongs to some groups. On start it creates its channel, subscribes itself and
/// joins the constructor's <c>groups</c>; no other message is handled before that is done. Its
/// channel's messages go to <see cref="OnChannelMessage"/>; declare your own handlers with
/// <c>Receive&lt;T&gt;</c> in your constructor as usual. On stop it leaves every group it is in;
/// if the layer is closed, it stops itself instead of failing (and being restarted) forever.
/// </summary>
/// <example>
/// <code>
/// public sealed class ChatConnection : ReceiveChannelConsumerActor
/// {
///     public ChatConnection(IActorChannelLayer layer, string room, IActorRef socket) : base(layer, "room-" + room)
///     {
///         Receive&lt;string&gt;(text =&gt; Layer.Actor.Tell(new ChannelLayerProtocol.GroupSend("room-" + room,
///             new Dictionary&lt;string, object?&gt; { ["type"] = "chat.message", ["text"] = text })));
///         _socket = socket;
///     }
///
///     private readonly IActorRef _socket;
///
///     protected override void OnChannelMessage(IReadOnlyDictionary&lt;string, object?&gt; message) =&gt;
///         _socket.Tell(message["text"]);
/// }
/// </code>
/// </example>
public abstract class ReceiveChannelConsumerActor : ReceiveActor
{
    private readonly ChannelConsumer _consumer;

    /// <summary>Creates a consumer of <paramref name="layer"/> that joins <paramref name="groups"/> on start.</summary>
    protected ReceiveChannelConsumerActor(IActorChannelLayer layer, params IEnumerable<string> groups)
    {
        _consumer = new ChannelConsumer(layer, groups);
        // First, so that a handler of the derived class for Received never sees this channel's messages.
        Receive<ChannelLayerProtocol.Received>(
            received => _consumer.IsChannelMessage(received, out _),
            received => OnChannelMessage(received.Message));
    }

    /// <summary>The layer this consumer receives from.</summary>
    protected IActorChannelLayer Layer => _consumer.Layer;

    /// <summary>This consumer's channel; set before the first message is handled.</summary>
    protected string ChannelName => _consumer.ChannelName;

    /// <summary>The groups this consumer is in.</summary>
    protected IReadOnlyCollection<string> Groups => _consumer.Groups;

    /// <summary>The prefix of the channel name (<c>{queue}!{prefix}.{random}</c>).</summary>
    protected virtual string ChannelPrefix => "specific";

    /// <summary>Handles one message of this consumer's channel.</summary>
    protected abstract void OnChannelMessage(IReadOnlyDictionary<string, object?> message);

    /// <summary>Joins a group; the returned task completes once the group's binding exists.</summary>
    protected Task JoinGroupAsync(string group) => _consumer.JoinAsync(group);

    /// <summary>Leaves a group.</summary>
    protected Task LeaveGroupAsync(string group) => _consumer.LeaveAsync(group);

    /// <inheritdoc />
    protected override void PreStart() => RunTask(_consumer.Start(ChannelPrefix, Context));

    /// <inheritdoc />
    protected override void PostStop() => _consumer.LeaveAll(Context.GetLogger());
}
