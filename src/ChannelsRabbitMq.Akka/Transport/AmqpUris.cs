namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>Parsing and redaction of the <c>Host</c> option (stub: to be completed).</summary>
internal static class AmqpUris
{
    /// <summary>The URIs with passwords replaced by <c>***</c>.</summary>
    public static string Redact(string host) => host;
}
