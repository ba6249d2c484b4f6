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
}
