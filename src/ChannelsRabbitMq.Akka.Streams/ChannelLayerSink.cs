using Akka.Streams.Dsl;

namespace ChannelsRabbitMq.Akka.Streams;

/// <summary>
/// Akka.Streams <see cref="Sink{TIn,TMat}"/>s that send each element through a
/// <see cref="IChannelLayer"/>: to one channel, or to a group. At most
/// <c>parallelism</c> sends wait for the broker's confirm at a time (back-pressure on the
/// stream beyond that); they are published in the stream's order. A send that fails
/// (<see cref="ChannelFullException"/>, a closed layer, …) fails the stream, unless a supervision
/// strategy says otherwise; the materialized task completes when the last send is confirmed, or
/// fails with the send's exception.
/// </summary>
public static class ChannelLayerSink
{
    /// <summary>Sends each element to <paramref name="channel"/>.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">A process-specific channel of any layer on the broker.</param>
    /// <param name="parallelism">Sends awaiting their confirm at a time (at least 1).</param>
    public static Sink<IReadOnlyDictionary<string, object?>, Task<Done>> ToChannel(IChannelLayer layer, string channel, int parallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Names.ValidateChannel(channel);
        return Sending<IReadOnlyDictionary<string, object?>>(parallelism, message => layer.SendAsync(channel, message));
    }

    /// <summary>Sends each element to every member of <paramref name="group"/>.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="group">The group.</param>
    /// <param name="parallelism">Group sends awaiting their confirm at a time (at least 1).</param>
    public static Sink<IReadOnlyDictionary<string, object?>, Task<Done>> ToGroup(IChannelLayer layer, string group, int parallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Names.ValidateGroup(group);
        return Sending<IReadOnlyDictionary<string, object?>>(parallelism, message => layer.GroupSendAsync(group, message));
    }

    /// <summary>Maps each element with <see cref="ChannelMessage.From{T}"/> and sends it to <paramref name="channel"/>.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="channel">A process-specific channel of any layer on the broker.</param>
    /// <param name="parallelism">Sends awaiting their confirm at a time (at least 1).</param>
    public static Sink<T, Task<Done>> ToChannel<T>(IChannelLayer layer, string channel, int parallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Names.ValidateChannel(channel);
        return Sending<T>(parallelism, message => layer.SendAsync(channel, ChannelMessage.From(message)));
    }

    /// <summary>Maps each element with <see cref="ChannelMessage.From{T}"/> and sends it to every member of <paramref name="group"/>.</summary>
    /// <param name="layer">The channel layer.</param>
    /// <param name="group">The group.</param>
    /// <param name="parallelism">Group sends awaiting their confirm at a time (at least 1).</param>
    public static Sink<T, Task<Done>> ToGroup<T>(IChannelLayer layer, string group, int parallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Names.ValidateGroup(group);
        return Sending<T>(parallelism, message => layer.GroupSendAsync(group, ChannelMessage.From(message)));
    }

    private static Sink<T, Task<Done>> Sending<T>(int parallelism, Func<T, Task> send)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        return Flow.Create<T>()
            .SelectAsync(parallelism, async message =>
            {
                await send(message).ConfigureAwait(false);
                return Done.Instance;
            })
            .ToMaterialized(Sink.Ignore<Done>(), Keep.Right)
            .MapMaterializedValue(UnwrapAsync);
    }

    // SelectAsync fails the stream with the task's AggregateException: the caller awaits the send's own exception.
    private static async Task<Done> UnwrapAsync(Task<Done> done)
    {
        try
        {
            return await done.ConfigureAwait(false);
        }
        catch (AggregateException aggregate) when (aggregate.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(aggregate.InnerExceptions[0]);
            throw;
        }
    }
}
