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
            received => _consumer.Dispatch(received, OnChannelMessage, Context.GetLogger()));
    }

    /// <summary>The layer this consumer receives from.</summary>
    protected IActorChannelLayer Layer => _consumer.Layer;

    /// <summary>This consumer's channel; set before the first message is handled.</summary>
    protected string ChannelName => _consumer.ChannelName;

    /// <summary>The groups this consumer is in.</summary>
    protected IReadOnlyCollection<string> Groups => _consumer.Groups;

    /// <summary>The prefix of the channel name (<c>{queue}!{prefix}.{random}</c>).</summary>
    protected virtual string ChannelPrefix => "specific";

    /// <summary>
    /// Handles one message of this consumer's channel that no <see cref="ReceiveChannel{T}"/>
    /// handler takes (all of them, if none is registered). By default it logs a warning and
    /// drops the message.
    /// </summary>
    protected virtual void OnChannelMessage(IReadOnlyDictionary<string, object?> message) => _consumer.Unhandled(message, Context.GetLogger());

    /// <summary>
    /// Handles this channel's messages whose <c>"type"</c> is <typeparamref name="T"/>'s
    /// (<see cref="ChannelMessage.TypeOf{T}"/>) with <paramref name="handler"/>, mapped with
    /// <see cref="ChannelMessage.To{T}"/> — as <c>Receive&lt;T&gt;</c> does for actor messages.
    /// Register in the constructor. A message of that type that does not map is logged and
    /// dropped; the sender's trace context is current while a handler runs.
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be read from a message.</exception>
    /// <exception cref="InvalidOperationException">A handler for that type is registered already.</exception>
    protected void ReceiveChannel<T>(Action<T> handler) => _consumer.AddHandler(handler);

    /// <summary>Joins a group; the returned task completes once the group's binding exists.</summary>
    protected Task JoinGroupAsync(string group) => _consumer.JoinAsync(group);

    /// <summary>Leaves a group.</summary>
    protected Task LeaveGroupAsync(string group) => _consumer.LeaveAsync(group);

    /// <inheritdoc />
    protected override void PreStart() => RunTask(_consumer.Start(ChannelPrefix, Context));

    /// <inheritdoc />
    protected override void PostStop() => _consumer.LeaveAll(Context.GetLogger());
}
