using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using MailboxEnvelope = global::Akka.Actor.Envelope;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The mailbox of the channel actors: a lock-protected queue that starts empty and grows 4, 8, …,
/// instead of the default mailbox's concurrent queue, whose first segment alone takes about
/// 1 KB per actor. A layer may hold 100,000 live channels; their mailboxes are nearly always
/// empty, and the few producers of one channel (its router, its callers) hardly ever contend.
/// It keeps the size of its biggest burst (shrinking after each would allocate on every burst)
/// until the channel actor stops when idle.
/// </summary>
internal sealed class ChannelMailbox : MailboxType, IProducesMessageQueue<ChannelMailbox.MessageQueue>
{
    /// <summary>The configuration path of this mailbox type (injected as a fallback into the layer's actor system).</summary>
    public const string Id = "channels-rabbitmq-akka.channel-mailbox";

    internal static readonly Config Configuration = ConfigurationFactory.ParseString(
        $"{Id} {{ mailbox-type = \"{typeof(ChannelMailbox).FullName}, {typeof(ChannelMailbox).Assembly.GetName().Name}\" }}");

    public ChannelMailbox(Settings settings, Config config) : base(settings, config)
    {
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new MessageQueue();

    /// <summary>Registers this mailbox type with <paramref name="system"/> (idempotent).</summary>
    public static void Register(ActorSystem system)
    {
        if (!system.Settings.Config.HasPath(Id)) system.Settings.InjectTopLevelFallback(Configuration);
    }

    internal sealed class MessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly Queue<MailboxEnvelope> _queue = new(0);
        private int _count;

        public bool HasMessages => Volatile.Read(ref _count) > 0;

        public int Count => Volatile.Read(ref _count);

        public void Enqueue(IActorRef receiver, MailboxEnvelope envelope)
        {
            lock (_queue)
            {
                _queue.Enqueue(envelope);
                _count = _queue.Count;
            }
        }

        public bool TryDequeue(out MailboxEnvelope envelope)
        {
            lock (_queue)
            {
                if (!_queue.TryDequeue(out envelope)) return false;
                _count = _queue.Count;
                return true;
            }
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }
    }
}
