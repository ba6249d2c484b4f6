using System.Net.WebSockets;
using System.Threading.Channels;

namespace ChannelsRabbitMq.Akka.WebSockets;

/// <summary>
/// The frames waiting to be written to one websocket, and how the socket is to be closed. The
/// connection's actor posts frames (it never touches the socket); <see cref="WebSocketBridge"/>
/// writes them, one at a time, and sends the close frame once the outbox is closed. Thread-safe.
/// </summary>
public sealed class WebSocketOutbox
{
    private readonly Channel<byte[]> _frames;
    private readonly object _gate = new();
    private (WebSocketCloseStatus Status, string Description)? _close;

    /// <summary>An outbox that holds at most <paramref name="capacity"/> unwritten frames.</summary>
    public WebSocketOutbox(int capacity = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _frames = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the client is too slow
        });
    }

    /// <summary>The frames, for the bridge's send loop; completes when the outbox is closed.</summary>
    public ChannelReader<byte[]> Frames => _frames.Reader;

    /// <summary>The close status and description (the first <see cref="Close"/> wins); NormalClosure if none.</summary>
    public (WebSocketCloseStatus Status, string Description) CloseReason
    {
        get { lock (_gate) return _close ?? (WebSocketCloseStatus.NormalClosure, "closed"); }
    }

    /// <summary>True once <see cref="Close"/> has been called.</summary>
    public bool IsClosed
    {
        get { lock (_gate) return _close is not null; }
    }

    /// <summary>
    /// Queues a text frame (UTF-8). Returns false if the outbox is closed (the frame is dropped)
    /// or full, in which case it closes the outbox: a client that reads this slowly is
    /// disconnected rather than letting its frames pile up in memory.
    /// </summary>
    public bool TryPost(byte[] frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (_frames.Writer.TryWrite(frame)) return true;
        Close(WebSocketCloseStatus.PolicyViolation, "too slow: the client did not read its messages");
        return false;
    }

    /// <summary>Closes the outbox: frames already queued are still written, then the socket closes with this status.</summary>
    public void Close(WebSocketCloseStatus status, string description)
    {
        lock (_gate) _close ??= (status, description);
        _frames.Writer.TryComplete();
    }
}
