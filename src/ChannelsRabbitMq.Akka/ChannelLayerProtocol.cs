using Akka.Actor;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// The messages a layer's actor (<see cref="IActorChannelLayer.Actor"/>) answers, for code that
/// talks to the layer with <c>Ask</c> and <c>Tell</c> instead of the Task API. Every request is
/// answered with the reply named in its documentation or with <see cref="Status.Failure"/>
/// carrying the same exception the Task API throws (<see cref="ChannelFullException"/>,
/// <see cref="ArgumentException"/>, <see cref="ChannelLayerClosedException"/>, …), so
/// <c>await actor.Ask&lt;Done&gt;(new ChannelLayerProtocol.Send(…))</c> throws it.
/// </summary>
public static class ChannelLayerProtocol
{
    /// <summary>Send to a channel; answered with <see cref="global::Akka.Done"/>.</summary>
    public sealed record Send(string Channel, IReadOnlyDictionary<string, object?> Message);

    /// <summary>Send to every channel of a group; answered with <see cref="global::Akka.Done"/>.</summary>
    public sealed record GroupSend(string Group, IReadOnlyDictionary<string, object?> Message);

    /// <summary>Add a channel to a group; answered with <see cref="global::Akka.Done"/> once bound.</summary>
    public sealed record GroupAdd(string Group, string Channel);

    /// <summary>Remove a channel from a group; answered with <see cref="global::Akka.Done"/>.</summary>
    public sealed record GroupDiscard(string Group, string Channel);

    /// <summary>Create a channel name owned by this layer; answered with <see cref="ChannelCreated"/>.</summary>
    public sealed record NewChannel(string Prefix = "specific");

    /// <summary>Reply to <see cref="NewChannel"/>.</summary>
    public sealed record ChannelCreated(string Channel);

    /// <summary>
    /// Wait for the next message of one of this layer's channels; answered with
    /// <see cref="Received"/>, or with <see cref="Status.Failure"/> carrying a
    /// <see cref="TimeoutException"/> when <see cref="Timeout"/> passes first.
    /// </summary>
    /// <remarks>
    /// A receive whose asker is gone takes no message: the layer skips a waiting receive once its
    /// asker has terminated (a temporary <c>Ask</c> actor stops when its own timeout fires). The
    /// moment an Ask times out cannot be claimed against, though: a message handed over in that
    /// same instant would go to the stopped asker. Give <see cref="Timeout"/> a value shorter than
    /// the Ask's timeout: the layer then ends the receive itself, and the message stays queued.
    /// </remarks>
    public sealed record Receive(string Channel)
    {
        /// <summary>How long the layer waits for a message before answering with a <see cref="TimeoutException"/>; null waits until one arrives.</summary>
        public TimeSpan? Timeout { get; init; }
    }

    /// <summary>
    /// A message of <paramref name="Channel"/>: the reply to <see cref="Receive"/>, and what a
    /// subscriber is told for each message of its channel.
    /// </summary>
    public sealed record Received(string Channel, IReadOnlyDictionary<string, object?> Message)
    {
        /// <summary>
        /// The trace context of the message's receive activity (a child of the sender's send
        /// activity), or default when the sender propagated none. Start your handling activity
        /// with it as parent to continue the trace.
        /// </summary>
        public System.Diagnostics.ActivityContext TraceContext { get; init; }
    }

    /// <summary>
    /// Push every message of <paramref name="Channel"/> to <paramref name="Subscriber"/> as a
    /// <see cref="Received"/>, in order, with no receive loop; answered with
    /// <see cref="global::Akka.Done"/>. The subscription ends when the subscriber terminates or
    /// with <see cref="Unsubscribe"/>.
    /// </summary>
    public sealed record Subscribe(string Channel, IActorRef Subscriber);

    /// <summary>End a subscription; answered with <see cref="global::Akka.Done"/>.</summary>
    public sealed record Unsubscribe(string Channel, IActorRef Subscriber);

    /// <summary>Ask for <see cref="ChannelLayerStatistics"/>.</summary>
    public sealed class GetStatistics
    {
        /// <summary>The single instance.</summary>
        public static GetStatistics Instance { get; } = new();

        private GetStatistics() { }
    }
}
