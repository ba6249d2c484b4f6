using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Reads <see cref="RabbitMqChannelLayerOptions"/> from a configuration section such as
/// <c>"ChannelLayers:Default"</c> of appsettings.json. Keys are the option names (any case);
/// <c>Tls</c> is a nested section with the <see cref="RabbitMqTlsOptions"/> names.
/// </summary>
/// <remarks>
/// <para>
/// Durations (<c>Expiry</c>, <c>LocalExpiry</c>, <c>ReconnectDelay</c>, <c>MaxReconnectDelay</c>,
/// <c>ConnectTimeout</c>, <c>QueueGracePeriod</c>)
/// are either seconds (<c>"60"</c>, <c>"0.5"</c>) or <c>hh:mm:ss</c> (<c>"00:01:00"</c>). This
/// is why the options are not bound with <c>ConfigurationBinder.Bind</c>: it reads <c>"60"</c>
/// as <see cref="TimeSpan.Parse(string)"/> does, as sixty <em>days</em>. <c>QueueMode</c> is
/// <c>Auto</c>, <c>Durable</c> or <c>Exclusive</c> (any case).
/// </para>
/// <para>
/// Every mistake is an <see cref="InvalidOperationException"/> whose message starts with the
/// full key (<c>ChannelLayers:Default:Expiry</c>): a value that does not parse, an out-of-range
/// value, an invalid AMQP URI, a certificate file that cannot be loaded, a key that is not an
/// option (a typo would otherwise be ignored silently), and a missing or empty section (an app
/// whose configuration did not load would otherwise connect to localhost). A key with an empty
/// value (JSON <c>null</c>) keeps the default.
/// </para>
/// </remarks>
public static class ChannelLayerConfiguration
{
    private static readonly IReadOnlyDictionary<string, Action<RabbitMqChannelLayerOptions, string, string>> Settings =
        new Dictionary<string, Action<RabbitMqChannelLayerOptions, string, string>>(StringComparer.OrdinalIgnoreCase)
        {
            [nameof(RabbitMqChannelLayerOptions.Host)] = (o, _, v) => o.Host = v,
            [nameof(RabbitMqChannelLayerOptions.Expiry)] = (o, k, v) => o.Expiry = ParseDuration(k, v),
            [nameof(RabbitMqChannelLayerOptions.LocalCapacity)] = (o, k, v) => o.LocalCapacity = ParseInt(k, v),
            [nameof(RabbitMqChannelLayerOptions.LocalExpiry)] = (o, k, v) => o.LocalExpiry = ParseDuration(k, v),
            [nameof(RabbitMqChannelLayerOptions.RemoteCapacity)] = (o, k, v) => o.RemoteCapacity = ParseInt(k, v),
            [nameof(RabbitMqChannelLayerOptions.GroupsExchange)] = (o, _, v) => o.GroupsExchange = v,
            [nameof(RabbitMqChannelLayerOptions.QueueName)] = (o, _, v) => o.QueueName = v,
            [nameof(RabbitMqChannelLayerOptions.ReconnectDelay)] = (o, k, v) => o.ReconnectDelay = ParseDuration(k, v),
            [nameof(RabbitMqChannelLayerOptions.ConnectTimeout)] = (o, k, v) => o.ConnectTimeout = ParseDuration(k, v),
            [nameof(RabbitMqChannelLayerOptions.MaxMessageSize)] = (o, k, v) => o.MaxMessageSize = ParseInt(k, v),
            [nameof(RabbitMqChannelLayerOptions.MaxReconnectDelay)] = (o, k, v) => o.MaxReconnectDelay = ParseDuration(k, v),
            [nameof(RabbitMqChannelLayerOptions.QueueMode)] = (o, k, v) => o.QueueMode = ParseQueueMode(k, v),
            [nameof(RabbitMqChannelLayerOptions.QueueGracePeriod)] = (o, k, v) => o.QueueGracePeriod = ParseDuration(k, v),
        };

    private static readonly IReadOnlyDictionary<string, Action<RabbitMqTlsOptions, string>> TlsSettings =
        new Dictionary<string, Action<RabbitMqTlsOptions, string>>(StringComparer.OrdinalIgnoreCase)
        {
            [nameof(RabbitMqTlsOptions.CaCertificatePath)] = (t, v) => t.CaCertificatePath = v,
            [nameof(RabbitMqTlsOptions.ClientCertificatePath)] = (t, v) => t.ClientCertificatePath = v,
            [nameof(RabbitMqTlsOptions.ClientKeyPath)] = (t, v) => t.ClientKeyPath = v,
            [nameof(RabbitMqTlsOptions.ClientCertificatePassword)] = (t, v) => t.ClientCertificatePassword = v,
            [nameof(RabbitMqTlsOptions.ServerName)] = (t, v) => t.ServerName = v,
        };

    /// <summary>New options: the defaults, overridden by <paramref name="section"/>, then validated.</summary>
    /// <exception cref="InvalidOperationException">The section is missing or a value is invalid; the message names the key.</exception>
    public static RabbitMqChannelLayerOptions Bind(IConfiguration section)
    {
        var options = new RabbitMqChannelLayerOptions();
        Bind(section, options);
        return options;
    }

    /// <summary>Overrides <paramref name="options"/> with the values of <paramref name="section"/>, then validates the result.</summary>
    /// <exception cref="InvalidOperationException">The section is missing or a value is invalid; the message names the key.</exception>
    public static void Bind(IConfiguration section, RabbitMqChannelLayerOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        var path = section is IConfigurationSection s ? s.Path : "";
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
            throw new InvalidOperationException(
                $"{Describe(path)}: the configuration section is missing or empty. Add it (at least \"Host\"), or configure the layer in code " +
                "with WithRabbitMqChannelLayer(options => …) to use the defaults.");

        foreach (var child in children)
        {
            if (string.Equals(child.Key, nameof(RabbitMqChannelLayerOptions.Tls), StringComparison.OrdinalIgnoreCase))
            {
                BindTls(child, options);
                continue;
            }
            if (!Settings.TryGetValue(child.Key, out var set))
                throw UnknownKey(child, Settings.Keys.Append(nameof(RabbitMqChannelLayerOptions.Tls)));
            if (child.GetChildren().Any())
                throw new InvalidOperationException($"{child.Path}: expected a value, found a section.");
            if (!string.IsNullOrEmpty(child.Value)) set(options, child.Path, child.Value);
        }

        try
        {
            ChannelLayerStartupValidation.Validate(options);
        }
        catch (ArgumentException e)
        {
            var key = Combine(path, e.ParamName);
            throw new InvalidOperationException($"{key}: {ChannelLayerStartupValidation.MessageOf(e)}", e);
        }
    }

    /// <summary>
    /// Parses a duration: seconds (<c>"60"</c>, <c>"0.5"</c>, invariant culture) or a
    /// <see cref="TimeSpan"/> with colons (<c>"00:01:00"</c>, <c>"1.00:00:00"</c> for a day).
    /// </summary>
    internal static bool TryParseDuration(string text, out TimeSpan duration)
    {
        text = text.Trim();
        duration = default;
        if (text.Contains(':'))
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds))
            return false;
        if (Math.Abs(seconds) >= TimeSpan.MaxValue.TotalSeconds) return false;
        duration = TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
        return true;
    }

    private static void BindTls(IConfigurationSection section, RabbitMqChannelLayerOptions options)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            if (!string.IsNullOrEmpty(section.Value))
                throw new InvalidOperationException($"{section.Path}: expected a section ({string.Join(", ", TlsSettings.Keys)}), found a value.");
            return; // "Tls": null or {}: no TLS settings
        }
        var tls = options.Tls ?? new RabbitMqTlsOptions();
        foreach (var child in children)
        {
            if (!TlsSettings.TryGetValue(child.Key, out var set)) throw UnknownKey(child, TlsSettings.Keys);
            if (child.GetChildren().Any())
                throw new InvalidOperationException($"{child.Path}: expected a value, found a section.");
            if (!string.IsNullOrEmpty(child.Value)) set(tls, child.Value);
        }
        options.Tls = tls;
    }

    private static TimeSpan ParseDuration(string key, string text) =>
        TryParseDuration(text, out var duration)
            ? duration
            : throw new InvalidOperationException(
                $"{key}: '{text}' is not a duration. Write seconds (\"60\", \"0.5\") or hh:mm:ss (\"00:01:00\").");

    private static QueueMode ParseQueueMode(string key, string text) =>
        Enum.TryParse<QueueMode>(text.Trim(), ignoreCase: true, out var mode) && Enum.IsDefined(mode) && !int.TryParse(text, out _)
            ? mode
            : throw new InvalidOperationException($"{key}: '{text}' is not a queue mode. Write Auto, Durable or Exclusive.");

    private static int ParseInt(string key, string text) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidOperationException($"{key}: '{text}' is not a whole number.");

    private static InvalidOperationException UnknownKey(IConfigurationSection key, IEnumerable<string> known) =>
        new($"{key.Path}: '{key.Key}' is not a channel layer setting. The settings are: {string.Join(", ", known)}.");

    private static string Describe(string path) => path.Length == 0 ? "(configuration root)" : path;

    private static string Combine(string path, string? key) =>
        string.IsNullOrEmpty(key) ? Describe(path) : path.Length == 0 ? key : $"{path}:{key}";
}
