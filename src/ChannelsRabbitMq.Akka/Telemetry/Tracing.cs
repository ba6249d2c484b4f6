using System.Diagnostics;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Send and receive activities on <see cref="ChannelLayerTelemetry.ActivitySource"/>. A send
/// carries its W3C trace context in the AMQP headers <c>traceparent</c>/<c>tracestate</c>
/// (Python peers ignore them); the receiving layer starts a receive activity as its child.
/// </summary>
internal static class Tracing
{
    private const string MessagingSystem = "rabbitmq";

    /// <summary>
    /// Starts the send activity (stopped by the caller when the broker confirms) and returns the
    /// context to propagate: the new activity's, or the caller's ambient one when nobody listens
    /// to this source. The caller's <see cref="Activity.Current"/> is left as it was.
    /// </summary>
    public static (Activity? Activity, TraceHeaders Trace) StartSend(string destination, bool isGroup, string queueName)
    {
        var ambient = Activity.Current;
        Activity? activity = null;
        if (ChannelLayerTelemetry.ActivitySource.HasListeners())
        {
            activity = ChannelLayerTelemetry.ActivitySource.StartActivity(isGroup ? "group_send" : "send", ActivityKind.Producer);
            if (activity is not null)
            {
                activity.DisplayName = $"send {destination}";
                activity.SetTag("messaging.system", MessagingSystem);
                activity.SetTag("messaging.operation.type", "send");
                activity.SetTag("messaging.destination.name", destination);
                activity.SetTag(ChannelLayerTelemetry.QueueTag, queueName);
                if (isGroup) activity.SetTag("channels_rabbitmq.group", destination);
                // SendAsync is not async: without this, the caller would find our activity current.
                Activity.Current = ambient;
            }
        }
        var context = activity ?? ambient;
        return context is { IdFormat: ActivityIdFormat.W3C, Id: { } id }
            ? (activity, new TraceHeaders(id, context.TraceStateString))
            : (activity, TraceHeaders.None);
    }

    /// <summary>
    /// Records the hand-over of a message to a receiver as a receive activity, child of the
    /// sender's context, and returns the context a subscriber can continue from.
    /// </summary>
    public static ActivityContext Received(TraceHeaders trace, string channel)
    {
        if (trace.IsEmpty || !ActivityContext.TryParse(trace.TraceParent, trace.TraceState, isRemote: true, out var parent))
            return default;
        if (!ChannelLayerTelemetry.ActivitySource.HasListeners()) return parent;
        var previous = Activity.Current;
        using var activity = ChannelLayerTelemetry.ActivitySource.StartActivity("receive", ActivityKind.Consumer, parent);
        if (activity is null) return parent;
        activity.DisplayName = $"receive {channel}";
        activity.SetTag("messaging.system", MessagingSystem);
        activity.SetTag("messaging.operation.type", "receive");
        activity.SetTag("messaging.destination.name", channel);
        var context = activity.Context;
        activity.Stop();
        Activity.Current = previous;
        return context;
    }
}
