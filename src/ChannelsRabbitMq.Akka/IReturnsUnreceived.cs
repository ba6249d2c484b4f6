namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A layer that can take back a message its receiver could not use any more (it stopped in the
/// instant the message was handed over): the message goes back to the head of its channel, as
/// a dead-lettered reply to the actor protocol's <c>Receive</c> does. For the project's own
/// packages (the stream stages), not for users.
/// </summary>
internal interface IReturnsUnreceived
{
    /// <summary>Gives <paramref name="message"/> back to <paramref name="channel"/>: the next receive gets it first.</summary>
    void ReturnUnreceived(string channel, IReadOnlyDictionary<string, object?> message);
}
