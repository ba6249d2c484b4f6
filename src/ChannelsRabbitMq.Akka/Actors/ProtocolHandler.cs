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
                Answer(sender, () => layer.ReceiveAsync(receive.Channel), message => new ChannelLayerProtocol.Received(receive.Channel, message));
                return true;
            case ChannelLayerProtocol.GetStatistics:
                sender.Tell(layer.GetStatistics());
                return true;
            default:
                return false;
        }
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
