using Akka.Actor;
using Akka.Event;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Base class for an actor that owns one channel and belongs to some groups — the shape of a
/// Django Channels consumer, and of a websocket connection actor. On start it creates its
/// channel, subscribes itself (messages arrive pushed, in order, with no receive loop) and joins
/// the constructor's <c>groups</c>; no other message is handled before that is done. On stop it leaves
/// every group it is in; its subscription ends with it. For a <see cref="ReceiveActor"/>, derive
/// from <see cref="ReceiveChannelConsumerActor"/> instead (same behaviour).
/// </summary>
/// <example>
/// <code>
/// public sealed class ChatConnection(IActorChannelLayer layer, string room, IActorRef socket)
///     : ChannelConsumerActor(layer, "room-" + room)
/// {
///     protected override void OnChannelMessage(IReadOnlyDictionary&lt;string, object?&gt; message) =&gt;
///         socket.Tell(message["text"]);
/// }
/// </code>
/// </example>
public abstract class ChannelConsumerActor : UntypedActor
{
    private readonly ChannelConsumer _consumer;

    /// <summary>Creates a consumer of <paramref name="layer"/> that joins <paramref name="groups"/> on start.</summary>
    protected ChannelConsumerActor(IActorChannelLayer layer, params IEnumerable<string> groups)
    {
        _consumer = new ChannelConsumer(layer, groups);
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

    /// <summary>Handles any other message; unhandled by default.</summary>
    protected virtual void OnOtherMessage(object message) => Unhandled(message);

    /// <summary>Joins a group; the returned task completes once the group's binding exists.</summary>
    protected Task JoinGroupAsync(string group) => _consumer.JoinAsync(group);

    /// <summary>Leaves a group.</summary>
    protected Task LeaveGroupAsync(string group) => _consumer.LeaveAsync(group);

    /// <inheritdoc />
    protected override void PreStart() => RunTask(_consumer.Start(ChannelPrefix, Context));

    /// <inheritdoc />
    protected override void OnReceive(object message)
    {
        if (_consumer.IsChannelMessage(message, out var received)) _consumer.Dispatch(received, OnChannelMessage, Context.GetLogger());
        else OnOtherMessage(message);
    }

    /// <inheritdoc />
    protected override void PostStop() => _consumer.LeaveAll(Context.GetLogger());
}
