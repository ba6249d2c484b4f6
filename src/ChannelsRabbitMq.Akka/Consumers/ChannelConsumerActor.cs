using Akka.Actor;
using Akka.Event;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Base class for an actor that owns one channel and belongs to some groups — the shape of a
/// Django Channels consumer, and of a websocket connection actor. On start it creates its
/// channel, subscribes itself (messages arrive pushed, in order, with no receive loop) and joins
/// the constructor's <c>groups</c>; no other message is handled before that is done. On stop it leaves
/// every group it is in; its subscription ends with it.
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
    private readonly HashSet<string> _groups;

    /// <summary>Creates a consumer of <paramref name="layer"/> that joins <paramref name="groups"/> on start.</summary>
    protected ChannelConsumerActor(IActorChannelLayer layer, params IEnumerable<string> groups)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        _groups = new HashSet<string>(groups, StringComparer.Ordinal);
    }

    /// <summary>The layer this consumer receives from.</summary>
    protected IActorChannelLayer Layer { get; }

    /// <summary>This consumer's channel; set before the first message is handled.</summary>
    protected string ChannelName { get; private set; } = string.Empty;

    /// <summary>The groups this consumer is in.</summary>
    protected IReadOnlyCollection<string> Groups => _groups;

    /// <summary>The prefix of the channel name (<c>{queue}!{prefix}.{random}</c>).</summary>
    protected virtual string ChannelPrefix => "specific";

    /// <summary>Handles one message of this consumer's channel.</summary>
    protected abstract void OnChannelMessage(IReadOnlyDictionary<string, object?> message);

    /// <summary>Handles any other message; unhandled by default.</summary>
    protected virtual void OnOtherMessage(object message) => Unhandled(message);

    /// <summary>Joins a group; the returned task completes once the group's binding exists.</summary>
    protected Task JoinGroupAsync(string group)
    {
        _groups.Add(group);
        return Layer.GroupAddAsync(group, ChannelName);
    }

    /// <summary>Leaves a group.</summary>
    protected Task LeaveGroupAsync(string group)
    {
        _groups.Remove(group);
        return Layer.GroupDiscardAsync(group, ChannelName);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        // RunTask holds every other message back until the channel exists and is subscribed;
        // its continuations run as the actor (no ConfigureAwait(false) here).
        RunTask(async () =>
        {
            try
            {
                ChannelName = await Layer.NewChannelAsync(ChannelPrefix);
                await Layer.SubscribeAsync(ChannelName, Self);
                foreach (var group in _groups)
                    await Layer.GroupAddAsync(group, ChannelName);
            }
            catch (ChannelLayerClosedException)
            {
                // A restart would fail the same way, forever: a consumer of a closed layer stops.
                Context.Stop(Self);
            }
        });
    }

    /// <inheritdoc />
    protected override void OnReceive(object message)
    {
        if (message is ChannelLayerProtocol.Received received && received.Channel == ChannelName)
            OnChannelMessage(received.Message);
        else
            OnOtherMessage(message);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        if (ChannelName.Length == 0) return;
        var log = Context.GetLogger();
        foreach (var group in _groups)
        {
            try
            {
                _ = Layer.GroupDiscardAsync(group, ChannelName).ContinueWith(
                    t =>
                    {
                        if (t.Exception!.GetBaseException() is not ChannelLayerClosedException and var cause)
                            log.Warning("Could not leave group {0}: {1}", group, cause.Message);
                    },
                    CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
            catch (ChannelLayerClosedException)
            {
                // The layer is gone, and its bindings with it.
            }
        }
    }
}
