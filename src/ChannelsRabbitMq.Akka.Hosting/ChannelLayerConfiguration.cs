using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace ChannelsRabbitMq.Akka.Hosting;

/// <summary>
/// Reads <see cref="RabbitMqChannelLayerOptions"/> from a configuration section such as
/// <c>"ChannelLayers:default"</c> of appsettings.json, with the standard configuration binder.
/// Keys are the options' settable properties (any case); <c>Tls</c> is a nested section with
/// the <see cref="RabbitMqTlsOptions"/> properties.
/// </summary>
/// <remarks>
/// <para>
/// Durations (<c>Expiry</c>, <c>LocalExpiry</c>, <c>ReconnectDelay</c>, <c>MaxReconnectDelay</c>,
/// <c>ConnectTimeout</c>, <c>QueueGracePeriod</c>) are either <see cref="TimeSpan"/> strings
/// (<c>"00:01:00"</c>) or plain seconds (<c>"60"</c>, <c>"0.5"</c>: the Python original's unit).
/// The binder alone would read <c>"60"</c> as <see cref="TimeSpan.Parse(string)"/> does, as sixty
/// <em>days</em>, so plain seconds are rewritten to <c>hh:mm:ss</c> before it runs.
/// <c>QueueMode</c> is <c>Auto</c>, <c>Durable</c> or <c>Exclusive</c> (any case).
/// </para>
/// <para>
/// Mistakes are <see cref="InvalidOperationException"/>s naming the full key
/// (<c>ChannelLayers:default:Expiry</c>): a key that is not an option (a typo would otherwise be
/// ignored; the binder also runs with <see cref="BinderOptions.ErrorOnUnknownConfiguration"/>), a
/// value that does not convert, and a missing or empty section (an app whose configuration did not
/// load would otherwise connect to localhost). A key with an empty value (JSON <c>null</c>) keeps
/// the default. Out-of-range values are reported by the layer's options validation.
/// </para>
/// </remarks>
public static class ChannelLayerConfiguration
{
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
        BindValues(section, options);
        if (ChannelLayerOptionsValidator.Problem(options, PathOf(section), layerName: null) is { } problem)
            throw new InvalidOperationException(problem);
    }

    /// <summary>
    /// The options' configuration keys: every public settable property, nested option classes as
    /// <c>Tls:ServerName</c>. What <see cref="Bind(IConfiguration)"/> accepts, derived from the types.
    /// </summary>
    internal static IEnumerable<(string Key, PropertyInfo Property)> Keys(Type type, string prefix = "")
    {
        foreach (var property in Settable(type))
        {
            var key = prefix + property.Name;
            if (IsSection(property.PropertyType))
                foreach (var nested in Keys(property.PropertyType, key + ConfigurationPath.KeyDelimiter))
                    yield return nested;
            else
                yield return (key, property);
        }
    }

    /// <summary>Overrides <paramref name="options"/> with the values of <paramref name="section"/>, without validating.</summary>
    internal static void BindValues(IConfiguration section, RabbitMqChannelLayerOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        var path = PathOf(section);
        if (!section.GetChildren().Any())
            throw new InvalidOperationException(
                $"{Describe(path)}: the configuration section is missing or empty. Add it (at least \"Host\"), or configure the layer in code " +
                "with AddRabbitMqChannelLayer(options => …) to use the defaults.");

        // A copy under the same full paths, so that the binder's own messages name the user's keys.
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Collect(section, typeof(RabbitMqChannelLayerOptions), values);
        var copy = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        (path.Length == 0 ? (IConfiguration)copy : copy.GetSection(path)).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
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

    internal static string PathOf(IConfiguration section) => section is IConfigurationSection s ? s.Path : "";

    private static void Collect(IConfiguration section, Type type, Dictionary<string, string?> values)
    {
        var properties = Settable(type).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
                throw new InvalidOperationException(
                    $"{child.Path}: '{child.Key}' is not a channel layer setting. The settings are: {string.Join(", ", properties.Keys)}.");
            var hasChildren = child.GetChildren().Any();
            if (IsSection(property.PropertyType))
            {
                if (hasChildren) Collect(child, property.PropertyType, values);
                else if (!string.IsNullOrEmpty(child.Value))
                    throw new InvalidOperationException(
                        $"{child.Path}: expected a section ({string.Join(", ", Settable(property.PropertyType).Select(p => p.Name))}), found a value.");
                continue; // "Tls": null or {}: no TLS settings
            }
            if (hasChildren) throw new InvalidOperationException($"{child.Path}: expected a value, found a section.");
            if (string.IsNullOrEmpty(child.Value)) continue; // null keeps the default
            values[child.Path] = IsDuration(property.PropertyType) ? NormalizeDuration(child.Path, child.Value) : child.Value;
        }
    }

    private static string NormalizeDuration(string key, string text) =>
        TryParseDuration(text, out var duration)
            ? duration.ToString("c", CultureInfo.InvariantCulture)
            : throw new InvalidOperationException(
                $"{key}: '{text}' is not a duration. Write seconds (\"60\", \"0.5\") or hh:mm:ss (\"00:01:00\").");

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true });

    private static bool IsSection(Type type) => type.IsClass && type != typeof(string);

    private static bool IsDuration(Type type) => (Nullable.GetUnderlyingType(type) ?? type) == typeof(TimeSpan);

    private static string Describe(string path) => path.Length == 0 ? "(configuration root)" : path;
}
