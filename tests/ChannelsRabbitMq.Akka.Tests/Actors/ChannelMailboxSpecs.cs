using Akka.Actor;
using ChannelsRabbitMq.Akka.Actors;
using Xunit;
using MailboxEnvelope = global::Akka.Actor.Envelope;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>The channel actors' own mailbox: FIFO, counted, and drained to dead letters when the actor stops.</summary>
public sealed class ChannelMailboxSpecs
{
    [Fact]
    public void Messages_come_out_in_the_order_they_went_in_and_are_counted()
    {
        var queue = new ChannelMailbox.MessageQueue();
        Assert.False(queue.HasMessages);

        for (var i = 0; i < 100; i++) queue.Enqueue(ActorRefs.Nobody, new MailboxEnvelope(i, ActorRefs.NoSender));

        Assert.Equal(100, queue.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
        Assert.False(queue.HasMessages);
        Assert.False(queue.TryDequeue(out _));
    }

    [Fact]
    public void What_is_left_when_the_actor_stops_goes_to_the_dead_letters()
    {
        var queue = new ChannelMailbox.MessageQueue();
        var deadLetters = new ChannelMailbox.MessageQueue();
        queue.Enqueue(ActorRefs.Nobody, new MailboxEnvelope("a", ActorRefs.NoSender));
        queue.Enqueue(ActorRefs.Nobody, new MailboxEnvelope("b", ActorRefs.NoSender));

        queue.CleanUp(ActorRefs.Nobody, deadLetters);

        Assert.Equal(0, queue.Count);
        Assert.Equal(2, deadLetters.Count);
    }

    [Fact]
    public async Task A_layer_registers_the_mailbox_in_its_actor_system()
    {
        using var system = ActorSystem.Create("mailbox-spec");
        Assert.False(system.Settings.Config.HasPath(ChannelMailbox.Id));

        await using var layer = new RabbitMqChannelLayer(system, new RabbitMqChannelLayerOptions { Host = "amqp://guest:guest@127.0.0.1:1/" });

        Assert.True(system.Settings.Config.HasPath(ChannelMailbox.Id));
        Assert.NotNull(system.Mailboxes.Lookup(ChannelMailbox.Id));
    }
}
