using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Everything a layer would refuse when it is created, checked while the host is being
/// configured instead. The layer itself is created by an actor starter, where Akka.Hosting only
/// logs an exception and stops the application; here it fails the host's start with the reason.
/// </summary>
internal static class ChannelLayerStartupValidation
{
    /// <exception cref="ArgumentException">A setting is invalid; <see cref="ArgumentException.ParamName"/> names the option.</exception>
    public static void Validate(RabbitMqChannelLayerOptions options)
    {
        options.Validate();
        AmqpUris.Parse(options.Host);
        TlsSettings.Load(options.Tls); // reads the certificate files, as the transport will
    }

    /// <summary>The message of <paramref name="e"/> without the " (Parameter 'X')" suffix.</summary>
    public static string MessageOf(ArgumentException e)
    {
        var message = e.Message;
        var suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }
}
