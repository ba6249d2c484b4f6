using Akka.Actor;
using Akka.Event;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// What a consumer actor is, whichever actor style it is written in
/// (<see cref="ChannelConsumerActor"/>, <see cref="ReceiveChannelConsumerActor"/>): its channel,
/// its groups, how it starts (create, subscribe, join) and how it stops (leave every group).
/// Used only from its actor's thread.
/// </summary>
internal sealed class ChannelConsumer
{
    private readonly HashSet<string> _groups;

    public ChannelConsumer(IActorChannelLayer layer, IEnumerable<string> groups)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        _groups = new HashSet<string>(groups, StringComparer.Ordinal);
    }

    public IActorChannelLayer Layer { get; }

    public string ChannelName { get; private set; } = string.Empty;

    public IReadOnlyCollection<string> Groups => _groups;

    /// <summary>
    /// What to run in <c>RunTask</c> from <c>PreStart</c>: creates the channel, subscribes the actor
    /// and joins the groups. Every other message waits until it is done, and its continuations run
    /// as the actor (no <c>ConfigureAwait(false)</c> here). A consumer of a closed layer stops
    /// itself: a restart would fail the same way, forever.
    /// </summary>
    public Func<Task> Start(string prefix, IActorContext context)
    {
        var self = context.Self;
        return async () =>
        {
            try
            {
                ChannelName = await Layer.NewChannelAsync(prefix);
                await Layer.SubscribeAsync(ChannelName, self);
                foreach (var group in _groups)
                    await Layer.GroupAddAsync(group, ChannelName);
            }
            catch (ChannelLayerClosedException)
            {
                context.Stop(self);
            }
        };
    }

    /// <summary>True, with its message, for a message pushed from this consumer's channel.</summary>
    public bool IsChannelMessage(object message, out IReadOnlyDictionary<string, object?> channelMessage)
    {
        if (message is ChannelLayerProtocol.Received received && ChannelName.Length > 0 && received.Channel == ChannelName)
        {
            channelMessage = received.Message;
            return true;
        }
        channelMessage = null!;
        return false;
    }

    public Task JoinAsync(string group)
    {
        _groups.Add(group);
        return Layer.GroupAddAsync(group, ChannelName);
    }

    public Task LeaveAsync(string group)
    {
        _groups.Remove(group);
        return Layer.GroupDiscardAsync(group, ChannelName);
    }

    /// <summary>From <c>PostStop</c>: leaves every group (the subscription ends with the actor).</summary>
    public void LeaveAll(ILoggingAdapter log)
    {
        if (ChannelName.Length == 0) return;
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
