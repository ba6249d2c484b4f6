using ChannelsRabbitMq.Akka.Transport;
using Microsoft.Extensions.Options;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Validates the named options of one layer (registered by <c>AddRabbitMqChannelLayer</c>, run
/// by <c>ValidateOnStart</c>): everything the layer would refuse when it is created — option
/// ranges, the AMQP URI(s), the TLS certificate files — so that the host's start fails with the
/// reason instead of an actor starter failing later. Each failure names the configuration key
/// (<c>ChannelLayers:default:Expiry: …</c>) when the layer was bound from configuration, else the
/// layer and the option (<c>Channel layer 'chat': invalid LocalCapacity: …</c>).
/// </summary>
internal sealed class ChannelLayerOptionsValidator(string layerName, string? configurationPath) : IValidateOptions<RabbitMqChannelLayerOptions>
{
    public ValidateOptionsResult Validate(string? name, RabbitMqChannelLayerOptions options)
    {
        if (!string.Equals(name, layerName, StringComparison.Ordinal)) return ValidateOptionsResult.Skip;
        return Problem(options, configurationPath, layerName) is { } problem
            ? ValidateOptionsResult.Fail(problem)
            : ValidateOptionsResult.Success;
    }

    /// <summary>What is wrong with <paramref name="options"/>, or null.</summary>
    /// <param name="options">The options.</param>
    /// <param name="configurationPath">The section they were bound from, if any: a problem then starts with the key.</param>
    /// <param name="layerName">The layer's name, for options set in code.</param>
    public static string? Problem(RabbitMqChannelLayerOptions options, string? configurationPath, string? layerName)
    {
        try
        {
            options.Validate();
            AmqpUris.Parse(options.Host);
            TlsSettings.Load(options.Tls); // reads the certificate files, as the transport will
            return null;
        }
        catch (ArgumentException e)
        {
            var message = MessageOf(e);
            if (configurationPath is not null)
            {
                var key = string.IsNullOrEmpty(e.ParamName) ? configurationPath
                    : configurationPath.Length == 0 ? e.ParamName : $"{configurationPath}:{e.ParamName}";
                return $"{(key.Length == 0 ? "(configuration root)" : key)}: {message}";
            }
            return $"Channel layer '{layerName ?? DefaultChannelLayer.Name}': invalid {e.ParamName ?? "options"}: {message}";
        }
    }

    /// <summary>The message of <paramref name="e"/> without the " (Parameter 'X')" suffix.</summary>
    private static string MessageOf(ArgumentException e)
    {
        var message = e.Message;
        var suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }
}
