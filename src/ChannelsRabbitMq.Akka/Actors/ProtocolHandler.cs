using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Answers <see cref="ChannelLayerProtocol"/> requests through a layer's Task API, so the actor
/// protocol and the Task facade share one implementation: same validation, same exceptions
/// (as <see cref="Status.Failure"/>).
/// </summary>
internal static class ProtocolHandler
{
    /// <summary>Answers <paramref name="request"/> to <paramref name="sender"/> if it is a protocol request.</summary>
    public static bool TryAnswer(object request, IActorChannelLayer layer, IActorRef sender)
    {
        switch (request)
        {
            case ChannelLayerProtocol.Send send:
                Answer(sender, () => layer.SendAsync(send.Channel, send.Message));
                return true;
            case ChannelLayerProtocol.GroupSend groupSend:
                Answer(sender, () => layer.GroupSendAsync(groupSend.Group, groupSend.Message));
                return true;
            case ChannelLayerProtocol.GroupAdd groupAdd:
                Answer(sender, () => layer.GroupAddAsync(groupAdd.Group, groupAdd.Channel));
                return true;
            case ChannelLayerProtocol.GroupDiscard groupDiscard:
                Answer(sender, () => layer.GroupDiscardAsync(groupDiscard.Group, groupDiscard.Channel));
                return true;
            case ChannelLayerProtocol.Subscribe subscribe:
                Answer(sender, () => layer.SubscribeAsync(subscribe.Channel, subscribe.Subscriber));
                return true;
            case ChannelLayerProtocol.Unsubscribe unsubscribe:
                Answer(sender, () => layer.UnsubscribeAsync(unsubscribe.Channel, unsubscribe.Subscriber));
                return true;
            case ChannelLayerProtocol.NewChannel newChannel:
                Answer(sender, () => layer.NewChannelAsync(newChannel.Prefix), channel => new ChannelLayerProtocol.ChannelCreated(channel));
                return true;
            case ChannelLayerProtocol.Receive receive:
                AnswerReceive(receive, layer, sender);
                return true;
            case ChannelLayerProtocol.GetStatistics:
                sender.Tell(layer.GetStatistics());
                return true;
            default:
                return false;
        }
    }

    // The asker's own Ask timeout cannot be claimed against: the layer learns of it only once the
    // temporary asker has stopped, and skips a receiver whose asker is gone. Receive.Timeout,
    // shorter than the Ask's, ends the receive inside the layer, so the message stays queued.
    private static void AnswerReceive(ChannelLayerProtocol.Receive receive, IActorChannelLayer layer, IActorRef sender)
    {
        if (receive.Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            sender.Tell(new Status.Failure(new ArgumentOutOfRangeException(nameof(receive.Timeout), timeout, "Receive.Timeout must be positive.")));
            return;
        }
        var deadline = receive.Timeout is { } t ? new CancellationTokenSource(t) : null;
        var token = deadline?.Token ?? CancellationToken.None;
        Answer(sender, async () =>
        {
            try
            {
                return layer is RabbitMqChannelLayer rabbit
                    ? await rabbit.ReceiveAsync(receive.Channel, token, sender).ConfigureAwait(false)
                    : await layer.ReceiveAsync(receive.Channel, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline is { IsCancellationRequested: true })
            {
                throw new TimeoutException($"No message arrived on channel {receive.Channel} within {receive.Timeout}.");
            }
            finally
            {
                deadline?.Dispose();
            }
        }, message => UnreceivedReplies.Track(new ChannelLayerProtocol.Received(receive.Channel, message)));
    }

    private static void Answer(IActorRef sender, Func<Task> operation) =>
        Answer(sender, async () =>
        {
            await operation().ConfigureAwait(false);
            return global::Akka.Done.Instance;
        }, done => done);

    private static void Answer<T>(IActorRef sender, Func<Task<T>> operation, Func<T, object> reply)
    {
        Task<T> task;
        try
        {
            task = operation();
        }
        catch (Exception e)
        {
            sender.Tell(new Status.Failure(e));
            return;
        }
        task.PipeTo(sender, success: result => reply(result!),
            failure: e => new Status.Failure(e is AggregateException a ? a.GetBaseException() : e));
    }
}

/// <summary>
/// The replies to <see cref="ChannelLayerProtocol.Receive"/> on their way to their askers. One
/// that Akka dead-letters (its <c>Ask</c> timed out in the instant it was handed over, or its
/// asker stopped) is recognised by the layer's root, which gives the message back to its channel
/// (<see cref="ChannelInbox.TryReturn"/>): nothing already received is lost to an asker that gave up.
/// </summary>
internal static class UnreceivedReplies
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ChannelLayerProtocol.Received, object> Sent = new();

    public static ChannelLayerProtocol.Received Track(ChannelLayerProtocol.Received reply)
    {
        Sent.AddOrUpdate(reply, Sent);
        return reply;
    }

    /// <summary>True (once) for a reply of ours that was dead-lettered.</summary>
    public static bool TryTake(ChannelLayerProtocol.Received reply) => Sent.Remove(reply);
}
