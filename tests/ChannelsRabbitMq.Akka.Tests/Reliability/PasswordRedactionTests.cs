using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// Passwords never appear in log events (any level, causes included), exception messages or
/// <c>ToString()</c>. Complements <c>RabbitMqLayerTests.Connection_failure_warnings_do_not_reveal_the_password</c>
/// (warning texts of a refused TCP connect) and <c>AmqpUrisSpecs</c> (parser messages).
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class PasswordRedactionTests(ITestOutputHelper output)
{
    private const string Secret = "s3cr3t";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private static void AssertNoSecret(string text, string where)
    {
        Assert.False(text.Contains(Secret, StringComparison.OrdinalIgnoreCase), $"{where} reveals the password:\n{text}");
        // The percent-encoded forms used below, decoded or not.
        Assert.False(text.Contains("pw@x", StringComparison.Ordinal), $"{where} reveals the decoded password:\n{text}");
    }

    [Fact]
    public async Task No_log_event_of_a_failing_connect_reveals_the_password_at_any_level_cause_included()
    {
        await using var akka = new ReliabilitySystem(output);
        // Plain: the broker refuses the login (wrong password). TLS: no client certificate, so the
        // broker ends the handshake. Both URIs carry the password, one of them percent-encoded.
        var layer = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
        {
            Host = $"amqp://guest:{Secret}-pw@127.0.0.1:{new Uri(TestBroker.Url).Port}/asgi," +
                   $"amqps://guest:{Secret}-pw@localhost:{new Uri(TestBroker.TlsUrl).Port}/asgi",
            Tls = new RabbitMqTlsOptions { CaCertificatePath = TestBroker.Ssl("ca.pem") },
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        var encoded = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
        {
            Host = $"amqp://guest:{Secret}%2Fpw%40x@127.0.0.1:{new Uri(TestBroker.Url).Port}/asgi",
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        try
        {
            // The first failure of each cause is an Error, repeats are Debug: every level is read.
            var failures = await akka.WaitForAsync(e => e.Text.StartsWith("Failure connecting", StringComparison.Ordinal), 4, Timeout,
                "starting \"Failure connecting\" (any level)");
            Assert.Contains(failures, f => f.Text.Contains("ACCESS_REFUSED", StringComparison.Ordinal)
                                           || f.Text.Contains("refused", StringComparison.OrdinalIgnoreCase));
            var send = layer.SendAsync(await layer.NewChannelAsync(), Tagged.Message("never"));
            await layer.CloseAsync().WaitAsync(Timeout);
            await encoded.CloseAsync().WaitAsync(Timeout);
            var closed = await Assert.ThrowsAsync<ChannelLayerClosedException>(() => send);
            AssertNoSecret(closed.ToString(), "the exception of a send pending at close");

            var events = akka.Events;
            Assert.True(events.Count >= 4, "too few log events were captured to mean anything");
            foreach (var e in events) AssertNoSecret(e.ToString(), $"a {e.Level} event from {e.Source}");
            AssertNoSecret(layer.GetStatistics().ToString(), "the statistics");
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
            await encoded.CloseAsync().WaitAsync(Timeout);
        }
    }

    [Fact]
    public void ToString_of_the_options_hides_every_password_of_every_uri_and_the_certificate_password()
    {
        var options = new RabbitMqChannelLayerOptions
        {
            Host = $"amqp://guest:{Secret}-one@node1/asgi, amqps://guest:{Secret}-one@node2:5671/asgi",
            Tls = new RabbitMqTlsOptions { ClientCertificatePath = "/x/client.p12", ClientCertificatePassword = $"{Secret}-p12" },
        };

        var text = options.ToString();

        AssertNoSecret(text, "options.ToString()");
        AssertNoSecret(options.Tls.ToString(), "options.Tls.ToString()");
        Assert.Contains("node1", text, StringComparison.Ordinal);
        Assert.Contains("node2", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amqp://guest:s3cr3t-pw@127.0.0.1:notaport/asgi")]
    [InlineData("amqp://guest:s3cr3t-pw@127.0.0.1/asgi?heartbeat=5")]
    [InlineData("amqp://guest:s3cr3t#pw@127.0.0.1/asgi")]
    [InlineData("amqp://guest:s3cr3t:pw@127.0.0.1/asgi")]
    [InlineData("http://guest:s3cr3t-pw@127.0.0.1/asgi")]
    [InlineData("amqp://guest:s3cr3t-pw@127.0.0.1/asgi,amqp://guest:other-s3cr3t@127.0.0.2/asgi")]
    [InlineData("amqp://guest:s3cr3t-pw@127.0.0.1/asgi,,amqp://guest:s3cr3t-pw@127.0.0.2/asgi")]
    [InlineData("amqp://guest:s3cr3t%2Fpw%40x@127.0.0.1/a/b")]
    public async Task A_layer_refusing_a_bad_Host_throws_without_the_password_in_the_exception(string host)
    {
        await using var akka = new ReliabilitySystem(null);
        var e = Assert.ThrowsAny<ArgumentException>(() =>
            new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions { Host = host }));
        AssertNoSecret(e.ToString(), "the exception (message, inner exceptions and stack)");
    }

    [Fact]
    public async Task A_wrong_PKCS12_password_is_refused_without_echoing_it()
    {
        await using var akka = new ReliabilitySystem(null);
        var e = Assert.ThrowsAny<Exception>(() => new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.TlsUrl,
            Tls = new RabbitMqTlsOptions
            {
                CaCertificatePath = TestBroker.Ssl("ca.pem"),
                ClientCertificatePath = TestBroker.Ssl("client.p12"),
                ClientCertificatePassword = $"{Secret}-wrong",
            },
        }));
        output.WriteLine(e.ToString());
        AssertNoSecret(e.ToString(), "the exception of a wrong certificate password");
    }
}
