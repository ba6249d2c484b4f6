using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// One delivery from RabbitMQ on its way to local channels. A group message reaches several
/// channels but is one delivery: it counts once against <c>LocalCapacity</c> and is acked when
/// the last local copy has been received or has expired. The channel actors holding its copies
/// count them down themselves, so a fan-out costs the router one message per delivery, not one
/// per copy.
/// </summary>
internal sealed class Envelope
{
    public Envelope(IAmqpSession session, ulong deliveryTag, IReadOnlyDictionary<string, object?> message, int copies, long receivedAtMs)
    {
        Session = session;
        DeliveryTag = deliveryTag;
        Message = message;
        _remainingCopies = copies;
        ReceivedAtMs = receivedAtMs;
    }

    /// <summary>The session that delivered it: acks go there, and only while it lives.</summary>
    public IAmqpSession Session { get; }

    public ulong DeliveryTag { get; }

    public IReadOnlyDictionary<string, object?> Message { get; }

    private int _remainingCopies;

    /// <summary>Counts one copy done (received, expired or discarded); true for the last one.</summary>
    public bool CopyDone() => Interlocked.Decrement(ref _remainingCopies) == 0;

    /// <summary>Counts <paramref name="copies"/> copies done at once; true if they were the last.</summary>
    public bool CopiesDone(int copies) => Interlocked.Add(ref _remainingCopies, -copies) == 0;

    /// <summary><see cref="Environment.TickCount64"/> when it arrived, for local expiry.</summary>
    public long ReceivedAtMs { get; }

    /// <summary>Hash of the body (0 unless the queue outlives its connection), to recognise a redelivery.</summary>
    public ulong Fingerprint { get; init; }

    /// <summary>The sender's trace context, if any.</summary>
    public TraceHeaders Trace { get; init; }

}
