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
    public bool IsChannelMessage(object message, out ChannelLayerProtocol.Received channelMessage)
    {
        if (message is ChannelLayerProtocol.Received received && ChannelName.Length > 0 && received.Channel == ChannelName)
        {
            channelMessage = received;
            return true;
        }
        channelMessage = null!;
        return false;
    }

    // The handlers of typed channel messages, by "type".
    private Dictionary<string, Action<IReadOnlyDictionary<string, object?>, ILoggingAdapter>>? _handlers;

    /// <summary>Handles this channel's messages whose <c>"type"</c> is <typeparamref name="T"/>'s with <paramref name="handler"/>.</summary>
    public void AddHandler<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        TypedChannelLayerExtensions.CheckReadable(typeof(T));
        var type = ChannelMessage.TypeOf<T>();
        _handlers ??= new(StringComparer.Ordinal);
        if (!_handlers.TryAdd(type, (message, log) =>
            {
                T value;
                try
                {
                    value = ChannelMessage.To<T>(message);
                }
                catch (ChannelMessageFormatException e)
                {
                    // A bad message must not restart the consumer (and so make it a new channel).
                    log.Warning("Dropped a message of type {0} on channel {1}: it is not a {2}: {3}", type, ChannelName, typeof(T).Name, e.Message);
                    return;
                }
                handler(value);
            }))
            throw new InvalidOperationException($"A handler for channel messages of type '{type}' is registered already.");
    }

    /// <summary>
    /// Runs the handler of the message's <c>"type"</c>, else <paramref name="fallback"/>, with the
    /// sender's trace context current (so what the handler sends continues the trace).
    /// </summary>
    public void Dispatch(ChannelLayerProtocol.Received received, Action<IReadOnlyDictionary<string, object?>> fallback, ILoggingAdapter log)
    {
        using var activity = Tracing.StartProcess(received.TraceContext, ChannelName);
        if (_handlers is not null && received.Message.TryGetValue("type", out var value) && value is string type &&
            _handlers.TryGetValue(type, out var handler))
            handler(received.Message, log);
        else
            fallback(received.Message);
    }

    /// <summary>The fallback of a consumer that does not override it: a message nobody handles is logged and dropped.</summary>
    public void Unhandled(IReadOnlyDictionary<string, object?> message, ILoggingAdapter log) =>
        log.Warning("Dropped a message of type {0} on channel {1}: no handler for it (register one with ReceiveChannel<T>, or override OnChannelMessage)",
            message.TryGetValue("type", out var type) ? type : "(none)", ChannelName);

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
