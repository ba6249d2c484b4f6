using System.Text;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>Reading <see cref="RabbitMqChannelLayerOptions"/> from a configuration section (<see cref="ChannelLayerConfiguration"/>).</summary>
public sealed class ConfigurationBindingSpecs
{
    private const string Section = "ChannelLayers:Default";

    [Fact]
    public void Every_setting_binds_from_appsettings_json_with_Tls_as_a_nested_section()
    {
        var json = $$"""
            {
              "ChannelLayers": {
                "Default": {
                  "Host": "amqps://guest:guest@localhost:5683/asgi",
                  "Expiry": "00:02:00",
                  "LocalCapacity": 50,
                  "LocalExpiry": "30",
                  "RemoteCapacity": 200,
                  "GroupsExchange": "my-groups",
                  "QueueName": "channels_fixed",
                  "ReconnectDelay": "0.5",
                  "ConnectTimeout": "00:00:05",
                  "MaxMessageSize": 65536,
                  "MaxReconnectDelay": "20",
                  "QueueMode": "exclusive",
                  "QueueGracePeriod": "00:00:30",
                  "Tls": {
                    "CaCertificatePath": {{Json(TestBroker.Ssl("ca.pem"))}},
                    "ClientCertificatePath": {{Json(TestBroker.Ssl("client.pem"))}},
                    "ClientKeyPath": {{Json(TestBroker.Ssl("client-key.pem"))}},
                    "ServerName": "localhost"
                  }
                }
              }
            }
            """;

        var options = ChannelLayerConfiguration.Bind(FromJson(json).GetSection(Section));

        Assert.Equal("amqps://guest:guest@localhost:5683/asgi", options.Host);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Expiry);
        Assert.Equal(50, options.LocalCapacity);
        Assert.Equal(TimeSpan.FromSeconds(30), options.LocalExpiry);
        Assert.Equal(200, options.RemoteCapacity);
        Assert.Equal("my-groups", options.GroupsExchange);
        Assert.Equal("channels_fixed", options.QueueName);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.ReconnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
        Assert.Equal(65536, options.MaxMessageSize);
        Assert.Equal(TimeSpan.FromSeconds(20), options.MaxReconnectDelay);
        Assert.Equal(QueueMode.Exclusive, options.QueueMode);
        Assert.Equal(TimeSpan.FromSeconds(30), options.QueueGracePeriod);
        Assert.NotNull(options.Tls);
        Assert.Equal(TestBroker.Ssl("ca.pem"), options.Tls.CaCertificatePath);
        Assert.Equal(TestBroker.Ssl("client.pem"), options.Tls.ClientCertificatePath);
        Assert.Equal(TestBroker.Ssl("client-key.pem"), options.Tls.ClientKeyPath);
        Assert.Equal("localhost", options.Tls.ServerName);
    }

    [Theory]
    [InlineData("00:01:00", 60_000)]
    [InlineData("60", 60_000)]
    [InlineData("0.5", 500)]
    [InlineData(" 90 ", 90_000)]
    [InlineData("1.00:00:00", 86_400_000)]
    public void A_duration_is_seconds_or_hh_mm_ss(string value, int milliseconds)
    {
        var options = Bind(("Host", TestBroker.Url), ("Expiry", value), ("LocalExpiry", value), ("ReconnectDelay", value), ("ConnectTimeout", value));

        var expected = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(expected, options.Expiry);
        Assert.Equal(expected, options.LocalExpiry);
        Assert.Equal(expected, options.ReconnectDelay);
        Assert.Equal(expected, options.ConnectTimeout);
    }

    [Fact]
    public void Keys_ignore_case_and_unset_keys_keep_their_defaults()
    {
        var options = Bind(("host", TestBroker.Url), ("EXPIRY", "120"));

        Assert.Equal(TestBroker.Url, options.Host);
        Assert.Equal(TimeSpan.FromSeconds(120), options.Expiry);
        var defaults = new RabbitMqChannelLayerOptions();
        Assert.Equal(defaults.LocalCapacity, options.LocalCapacity);
        Assert.Null(options.LocalExpiry);
        Assert.Null(options.Tls);
    }

    [Fact]
    public void A_null_value_in_json_keeps_the_default()
    {
        var options = ChannelLayerConfiguration.Bind(FromJson("""
            { "ChannelLayers": { "Default": { "Host": "amqp://guest:guest@127.0.0.1/asgi", "LocalExpiry": null, "Tls": null } } }
            """).GetSection(Section));

        Assert.Null(options.LocalExpiry);
        Assert.Null(options.Tls);
    }

    [Theory]
    [InlineData("Expiry", "sixty")]
    [InlineData("Expiry", "1m")]
    [InlineData("LocalExpiry", "NaN")]
    [InlineData("ConnectTimeout", "00:99:00:00")]
    public void A_value_that_is_not_a_duration_throws_naming_the_key(string key, string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", TestBroker.Url), (key, value)));

        Assert.StartsWith($"{Section}:{key}:", e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }

    [Fact]
    public void A_value_that_is_not_a_whole_number_throws_naming_the_key()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", TestBroker.Url), ("LocalCapacity", "12.5")));

        Assert.Contains($"'{Section}:LocalCapacity'", e.Message);
    }

    [Fact]
    public void A_queue_mode_that_is_not_one_throws_naming_the_key()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", TestBroker.Url), ("QueueMode", "Sometimes")));

        Assert.Contains($"'{Section}:QueueMode'", e.Message);
    }

    [Fact]
    public void Every_settable_option_binds_from_configuration_including_nested_ones()
    {
        // Derived from the option classes themselves, so a new option cannot be forgotten.
        var settings = new List<(string Key, string Value, object Expected)>();
        foreach (var (key, property) in SettableProperties(typeof(RabbitMqChannelLayerOptions), ""))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            (string, object) sample =
                type == typeof(string) ? ($"value-of-{key}", $"value-of-{key}")
                : type == typeof(int) ? ("4242", 4242)
                : type == typeof(TimeSpan) ? ("42", TimeSpan.FromSeconds(42))
                : type.IsEnum ? (Enum.GetNames(type)[^1], Enum.GetValues(type).GetValue(Enum.GetValues(type).Length - 1)!)
                : throw new InvalidOperationException($"The test has no sample value for {key} ({type}): add one.");
            settings.Add((key, sample.Item1, sample.Item2));
        }
        Assert.Contains(settings, s => s.Key == "QueueMode");
        Assert.Contains(settings, s => s.Key == "QueueGracePeriod");
        Assert.Contains(settings, s => s.Key == "Tls:ServerName");

        var options = new RabbitMqChannelLayerOptions();
        ChannelLayerConfiguration.BindValues(FromPairs(settings.Select(s => ($"{Section}:{s.Key}", s.Value)).ToArray()).GetSection(Section), options);

        foreach (var (key, _, expected) in settings)
            Assert.True(Equals(expected, Read(options, key)), $"{key}: bound {Read(options, key)}, expected {expected}");
    }

    private static IEnumerable<(string Key, System.Reflection.PropertyInfo Property)> SettableProperties(Type type, string prefix)
    {
        foreach (var property in type.GetProperties().Where(p => p.SetMethod is { IsPublic: true }))
        {
            if (property.PropertyType.IsClass && property.PropertyType != typeof(string))
                foreach (var nested in SettableProperties(property.PropertyType, $"{prefix}{property.Name}:")) yield return nested;
            else
                yield return ($"{prefix}{property.Name}", property);
        }
    }

    private static object? Read(object options, string key)
    {
        object? value = options;
        foreach (var part in key.Split(':')) value = value?.GetType().GetProperty(part)!.GetValue(value);
        return value;
    }

    [Theory]
    [InlineData("Expiry", "0")]
    [InlineData("Expiry", "-00:00:01")]
    [InlineData("LocalCapacity", "0")]
    [InlineData("RemoteCapacity", "-1")]
    [InlineData("QueueName", "not a queue name!")]
    public void A_value_out_of_range_throws_naming_the_key(string key, string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", TestBroker.Url), (key, value)));

        Assert.StartsWith($"{Section}:{key}:", e.Message);
    }

    [Fact]
    public void An_invalid_host_throws_naming_the_key_without_the_password()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", "http://user:s3cret@broker/asgi")));

        Assert.StartsWith($"{Section}:Host:", e.Message);
        Assert.DoesNotContain("s3cret", e.Message);
    }

    [Fact]
    public void A_certificate_file_that_cannot_be_loaded_throws_naming_the_key()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            Bind(("Host", TestBroker.TlsUrl), ("Tls:CaCertificatePath", "/nonexistent/ca.pem")));

        Assert.StartsWith($"{Section}:Tls:", e.Message);
        Assert.Contains("CaCertificatePath", e.Message);
    }

    [Theory]
    [InlineData("Expirey")]
    [InlineData("ExclusiveQueu")]
    [InlineData("Tls:CaCertificate")]
    public void A_key_that_is_not_a_setting_throws_naming_it(string key)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Bind(("Host", TestBroker.Url), (key, "1")));

        Assert.StartsWith($"{Section}:{key}:", e.Message);
        Assert.Contains("is not a channel layer setting", e.Message);
    }

    [Fact]
    public void A_missing_section_throws_naming_it()
    {
        var configuration = FromPairs(("ChannelLayers:Other:Host", TestBroker.Url));

        var e = Assert.Throws<InvalidOperationException>(() => ChannelLayerConfiguration.Bind(configuration.GetSection(Section)));

        Assert.StartsWith($"{Section}:", e.Message);
        Assert.Contains("missing or empty", e.Message);
    }

    [Fact]
    public void Binding_onto_existing_options_overrides_only_the_keys_present()
    {
        var options = new RabbitMqChannelLayerOptions { Host = TestBroker.Url, RemoteCapacity = 7 };

        ChannelLayerConfiguration.Bind(FromPairs(($"{Section}:LocalCapacity", "3")).GetSection(Section), options);

        Assert.Equal(TestBroker.Url, options.Host);
        Assert.Equal(7, options.RemoteCapacity);
        Assert.Equal(3, options.LocalCapacity);
    }

    private static RabbitMqChannelLayerOptions Bind(params (string Key, string Value)[] settings) =>
        ChannelLayerConfiguration.Bind(FromPairs(settings.Select(s => ($"{Section}:{s.Key}", s.Value)).ToArray()).GetSection(Section));

    private static IConfiguration FromPairs(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();

    private static IConfiguration FromJson(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}
