using System.Text;
using ChannelsRabbitMq.Akka.Transport;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Transport.TransportTestKit;

namespace ChannelsRabbitMq.Akka.Tests.Transport;

/// <summary>
/// TLS against the test broker, which requires a client certificate signed by the test CA
/// (verify_peer, fail_if_no_peer_cert).
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public class RabbitMqTlsSpecs(ITestOutputHelper output)
{
    private static RabbitMqTlsOptions PemClient(string ca = "ca.pem") => new()
    {
        CaCertificatePath = TestBroker.Ssl(ca),
        ClientCertificatePath = TestBroker.Ssl("client.pem"),
        ClientKeyPath = TestBroker.Ssl("client-key.pem"),
    };

    private static async Task RoundTripAsync(IAmqpSession session, SessionProbe probe)
    {
        var queue = UniqueName("tls");
        await session.DeclareQueueAsync(Queue(queue), default);
        await session.StartConsumingAsync(queue, 10, exclusive: true, default);
        await session.PublishAsync("", queue, Encoding.UTF8.GetBytes("over tls"), TraceHeaders.None, default);
        var (tag, body) = await probe.NextDeliveryAsync();
        Assert.Equal("over tls", Encoding.UTF8.GetString(body));
        session.Ack(tag);
    }

    [Fact]
    public async Task Mutual_tls_with_a_pem_client_certificate_connects()
    {
        var probe = new SessionProbe();

        await using var session = await NewTransport(TestBroker.TlsUrl, PemClient()).ConnectAsync(probe.Handlers, default).Within();

        Assert.True(session.IsOpen);
        await RoundTripAsync(session, probe);
    }

    [Fact]
    public async Task Mutual_tls_with_a_pkcs12_client_certificate_connects()
    {
        var probe = new SessionProbe();
        var tls = new RabbitMqTlsOptions
        {
            CaCertificatePath = TestBroker.Ssl("ca.pem"),
            ClientCertificatePath = TestBroker.Ssl("client.p12"),
            ClientCertificatePassword = TestBroker.P12Password,
        };

        await using var session = await NewTransport(TestBroker.TlsUrl, tls).ConnectAsync(probe.Handlers, default).Within();

        await RoundTripAsync(session, probe);
    }

    [Fact]
    public async Task Tls_without_a_client_certificate_is_refused_by_the_broker_with_a_clear_message()
    {
        var tls = new RabbitMqTlsOptions { CaCertificatePath = TestBroker.Ssl("ca.pem") };

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => NewTransport(TestBroker.TlsUrl, tls).ConnectAsync(new SessionProbe().Handlers, default)).Within(30);
        output.WriteLine(ex.Message);

        Assert.Contains("TLS", ex.Message);
        Assert.Contains("no client certificate is configured", ex.Message);
    }

    [Fact]
    public async Task A_broker_certificate_not_signed_by_the_configured_ca_is_refused_with_a_clear_message()
    {
        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() =>
            NewTransport(TestBroker.TlsUrl, PemClient(ca: "untrusted-ca.pem")).ConnectAsync(new SessionProbe().Handlers, default)).Within(30);
        output.WriteLine(ex.Message);

        Assert.Contains("is not signed by the configured CA", ex.Message);
        Assert.Contains("untrusted-ca.pem", ex.Message);
    }

    [Fact]
    public async Task A_broker_certificate_for_another_name_is_refused_with_a_clear_message()
    {
        var tls = PemClient();
        tls.ServerName = "not-the-broker.example";

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => NewTransport(TestBroker.TlsUrl, tls).ConnectAsync(new SessionProbe().Handlers, default)).Within(30);
        output.WriteLine(ex.Message);

        Assert.Contains("does not match the server name 'not-the-broker.example'", ex.Message);
    }

    [Fact]
    public async Task Without_a_ca_file_the_system_trust_store_decides_and_refuses_the_test_ca()
    {
        var tls = PemClient();
        tls.CaCertificatePath = null;

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => NewTransport(TestBroker.TlsUrl, tls).ConnectAsync(new SessionProbe().Handlers, default)).Within(30);
        output.WriteLine(ex.Message);

        Assert.Contains("not trusted by the system's trust store", ex.Message);
    }

    [Fact]
    public async Task Every_tls_endpoint_of_a_list_uses_tls()
    {
        var good = AmqpUris.Parse(TestBroker.TlsUrl)[0];
        var host = $"amqps://guest:guest@{good.Host}:1/{Uri.EscapeDataString(good.VirtualHost)}, {TestBroker.TlsUrl}";
        var probe = new SessionProbe();

        await using var session = await NewTransport(host, PemClient()).ConnectAsync(probe.Handlers, default).Within(30);

        Assert.Equal(good.Port, session.Connection!.Endpoint.Port);
        Assert.True(session.Connection.Endpoint.Ssl.Enabled);
        await RoundTripAsync(session, probe);
    }
}
