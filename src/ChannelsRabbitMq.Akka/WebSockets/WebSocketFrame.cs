using System.Text;

namespace ChannelsRabbitMq.Akka.WebSockets;

/// <summary>One whole message the client sent on its websocket, told to the connection's actor.</summary>
/// <param name="Data">The message's bytes.</param>
/// <param name="IsText">A text message (UTF-8); false for a binary one.</param>
public sealed record WebSocketFrame(byte[] Data, bool IsText)
{
    /// <summary>The message as text (UTF-8).</summary>
    public string Text => Encoding.UTF8.GetString(Data);
}
