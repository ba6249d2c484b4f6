using System.Diagnostics;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// Send and receive activities on <see cref="ChannelLayerTelemetry.ActivitySource"/>, named and
/// tagged after OpenTelemetry's messaging semantic conventions. A send carries its trace context
/// in AMQP headers written by <see cref="DistributedContextPropagator.Current"/> (by default W3C
/// <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c>; Python peers ignore them); the
/// receiving layer reads them with the same propagator and starts a receive activity as its child.
/// </summary>
/// <remarks>
/// A process-specific channel is a temporary destination (<c>messaging.destination.temporary</c>):
/// its random name is a tag, never part of a span name, so span names stay few — <c>send</c> and
/// <c>receive</c> for channels, <c>send {group}</c> for groups.
/// </remarks>
internal static class Tracing
{
    private const string MessagingSystem = "rabbitmq";

    /// <summary>
    /// Starts the send activity (stopped by the caller when the broker confirms) and returns the
    /// headers to propagate: the new activity's context, or the caller's ambient one when nobody
    /// listens to this source. The caller's <see cref="Activity.Current"/> is left as it was.
    /// </summary>
    public static (Activity? Activity, TraceHeaders Trace) StartSend(string destination, bool isGroup, string queueName)
    {
        var ambient = Activity.Current;
        Activity? activity = null;
        if (ChannelLayerTelemetry.ActivitySource.HasListeners())
        {
            activity = ChannelLayerTelemetry.ActivitySource.StartActivity("send", ActivityKind.Producer);
            if (activity is not null)
            {
                activity.DisplayName = isGroup ? $"send {destination}" : "send";
                activity.SetTag("messaging.system", MessagingSystem);
                activity.SetTag("messaging.operation.name", "send");
                activity.SetTag("messaging.operation.type", "send");
                activity.SetTag("messaging.destination.name", destination);
                if (isGroup) activity.SetTag("channels_rabbitmq.group", destination);
                else activity.SetTag("messaging.destination.temporary", true);
                activity.SetTag(ChannelLayerTelemetry.QueueTag, queueName);
                // SendAsync is not async: without this, the caller would find our activity current.
                Activity.Current = ambient;
            }
        }
        return (activity, Inject(activity ?? ambient));
    }

    private static TraceHeaders Inject(Activity? context)
    {
        if (context is null) return TraceHeaders.None;
        var fields = new Dictionary<string, object?>(3);
        DistributedContextPropagator.Current.Inject(context, fields,
            static (carrier, name, value) => ((Dictionary<string, object?>)carrier!)[name] = value);
        return fields.Count == 0 ? TraceHeaders.None : new TraceHeaders(fields);
    }

    /// <summary>
    /// Of a delivery's headers, the fields the propagator reads, decoded once (a group message's
    /// copies each start an activity from them); None when they hold no trace context.
    /// </summary>
    public static TraceHeaders Extract(IDictionary<string, object?> headers)
    {
        var propagator = DistributedContextPropagator.Current;
        // Most headers carry no trace (a Celery message's, say): nothing to decode or allocate.
        if (!CarriesAny(headers, propagator.Fields)) return TraceHeaders.None;
        var read = new Dictionary<string, object?>(3);
        var carrier = (headers, read);
        propagator.ExtractTraceIdAndState(carrier, Copy, out var traceParent, out _);
        if (traceParent is null) return TraceHeaders.None;
        propagator.ExtractBaggage(carrier, Copy);
        return new TraceHeaders(read);

        static bool CarriesAny(IDictionary<string, object?> headers, IReadOnlyCollection<string> fields)
        {
            foreach (var field in fields)
                if (headers.ContainsKey(field)) return true;
            return false;
        }

        static void Copy(object? carrier, string name, out string? value, out IEnumerable<string>? values)
        {
            var (from, to) = ((IDictionary<string, object?>, Dictionary<string, object?>))carrier!;
            values = null;
            value = new TraceHeaders(from).Get(name);
            if (value is not null) to[name] = value;
        }
    }

    /// <summary>
    /// Makes the context a message was sent in current while a consumer handles it: a Consumer
    /// activity <c>process</c> when someone listens to the source, else a bare activity with that
    /// parent (so what the handler sends still continues the trace). Null when the message came
    /// without a trace.
    /// </summary>
    public static Activity? StartProcess(ActivityContext parent, string channel)
    {
        if (parent == default) return null;
        var activity = ChannelLayerTelemetry.ActivitySource.HasListeners()
            ? ChannelLayerTelemetry.ActivitySource.StartActivity("process", ActivityKind.Consumer, parent)
            : null;
        if (activity is null)
            return new Activity("process").SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags).Start();
        return OnChannel(activity, "process", channel);
    }

    // A consumer-side activity on a process-specific channel (a temporary destination).
    private static Activity OnChannel(Activity activity, string operation, string channel)
    {
        activity.DisplayName = operation;
        activity.SetTag("messaging.system", MessagingSystem);
        activity.SetTag("messaging.operation.name", operation);
        activity.SetTag("messaging.operation.type", operation);
        activity.SetTag("messaging.destination.name", channel);
        activity.SetTag("messaging.destination.temporary", true);
        return activity;
    }

    /// <summary>
    /// Records the hand-over of a message to a receiver as a receive activity, child of the
    /// sender's context (with its baggage), and returns the context a subscriber can continue from.
    /// </summary>
    public static ActivityContext Received(TraceHeaders trace, string channel)
    {
        if (trace.IsEmpty) return default;
        var propagator = DistributedContextPropagator.Current;
        propagator.ExtractTraceIdAndState(trace.Fields, Read, out var traceParent, out var traceState);
        if (traceParent is null || !ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent)) return default;
        if (!ChannelLayerTelemetry.ActivitySource.HasListeners()) return parent;
        var previous = Activity.Current;
        using var activity = ChannelLayerTelemetry.ActivitySource.StartActivity("receive", ActivityKind.Consumer, parent);
        if (activity is null) return parent;
        OnChannel(activity, "receive", channel);
        if (propagator.ExtractBaggage(trace.Fields, Read) is { } baggage)
            foreach (var (key, value) in baggage) activity.SetBaggage(key, value);
        var context = activity.Context;
        activity.Stop();
        Activity.Current = previous;
        return context;

        static void Read(object? carrier, string name, out string? value, out IEnumerable<string>? values)
        {
            values = null;
            value = new TraceHeaders((IDictionary<string, object?>?)carrier).Get(name);
        }
    }
}
