using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// One delivery from RabbitMQ on its way to local channels. A group message reaches several
/// channels but is one delivery: it counts once against <c>LocalCapacity</c> and is acked when
/// the last local copy has been received or has expired.
/// </summary>
internal sealed class Envelope
{
    public Envelope(IAmqpSession session, ulong deliveryTag, IReadOnlyDictionary<string, object?> message, int copies, long receivedAtMs)
    {
        Session = session;
        DeliveryTag = deliveryTag;
        Message = message;
        RemainingCopies = copies;
        ReceivedAtMs = receivedAtMs;
    }

    /// <summary>The session that delivered it: acks go there, and only while it lives.</summary>
    public IAmqpSession Session { get; }

    public ulong DeliveryTag { get; }

    public IReadOnlyDictionary<string, object?> Message { get; }

    /// <summary>Copies not yet received or expired. Only the router reads and writes it.</summary>
    public int RemainingCopies { get; set; }

    /// <summary><see cref="Environment.TickCount64"/> when it arrived, for local expiry.</summary>
    public long ReceivedAtMs { get; }

    /// <summary>Hash of the body (0 unless the queue outlives its connection), to recognise a redelivery.</summary>
    public ulong Fingerprint { get; init; }

    /// <summary>The sender's trace context, if any.</summary>
    public TraceHeaders Trace { get; init; }

    /// <summary>Set by the router once a first copy has been received. Only the router reads and writes it.</summary>
    public bool HandedOver { get; set; }
}
