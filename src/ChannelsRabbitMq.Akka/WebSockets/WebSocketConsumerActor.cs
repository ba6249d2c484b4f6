using System.Net.WebSockets;

namespace ChannelsRabbitMq.Akka.WebSockets;

/// <summary>
/// The actor of one websocket connection: a <see cref="ReceiveChannelConsumerActor"/> (its own
/// channel, its groups, typed handlers with <c>ReceiveChannel&lt;T&gt;</c>) that gets what the
/// client sends as <see cref="OnFrame"/> and writes to the client through <see cref="Outbox"/>.
/// Run it with <see cref="WebSocketBridge.RunAsync"/>. When it stops, for whatever reason, it
/// closes the outbox, so the socket closes cleanly after the frames already posted.
/// </summary>
public abstract class WebSocketConsumerActor : ReceiveChannelConsumerActor
{
    /// <summary>A connection of <paramref name="layer"/> that joins <paramref name="groups"/> and writes to <paramref name="outbox"/>.</summary>
    protected WebSocketConsumerActor(IActorChannelLayer layer, WebSocketOutbox outbox, params IEnumerable<string> groups) : base(layer, groups)
    {
        Outbox = outbox ?? throw new ArgumentNullException(nameof(outbox));
        Receive<WebSocketFrame>(OnFrame);
    }

    /// <summary>Where frames to the client go (<see cref="WebSocketOutbox.TryPost"/>); closing it closes the socket.</summary>
    protected WebSocketOutbox Outbox { get; }

    /// <summary>Handles one whole message the client sent.</summary>
    protected abstract void OnFrame(WebSocketFrame frame);

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        // If the bridge stopped this actor it closed the outbox first, and its reason wins.
        Outbox.Close(WebSocketCloseStatus.InternalServerError, "the connection's actor stopped");
    }
}
