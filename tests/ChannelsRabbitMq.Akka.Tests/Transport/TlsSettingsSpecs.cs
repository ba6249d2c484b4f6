using ChannelsRabbitMq.Akka.Transport;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Transport;

/// <summary>Loading the TLS files (no broker needed, only the test certificates).</summary>
public class TlsSettingsSpecs
{
    [Fact]
    public void A_pem_client_certificate_and_key_load_with_the_private_key()
    {
        var settings = TlsSettings.Load(new RabbitMqTlsOptions
        {
            ClientCertificatePath = TestBroker.Ssl("client.pem"),
            ClientKeyPath = TestBroker.Ssl("client-key.pem"),
        });

        Assert.True(settings.ClientCertificate!.HasPrivateKey);
    }

    [Fact]
    public void A_pkcs12_client_certificate_loads_with_its_password()
    {
        var settings = TlsSettings.Load(new RabbitMqTlsOptions
        {
            ClientCertificatePath = TestBroker.Ssl("client.p12"),
            ClientCertificatePassword = TestBroker.P12Password,
        });

        Assert.True(settings.ClientCertificate!.HasPrivateKey);
    }

    [Fact]
    public void A_pkcs12_file_with_a_wrong_password_is_refused_at_load()
    {
        var ex = Assert.Throws<ArgumentException>(() => TlsSettings.Load(new RabbitMqTlsOptions
        {
            ClientCertificatePath = TestBroker.Ssl("client.p12"),
            ClientCertificatePassword = "wrong",
        }));

        Assert.Contains("client.p12", ex.Message);
    }

    [Fact]
    public void A_pem_certificate_without_its_key_is_refused_at_load()
    {
        var ex = Assert.Throws<ArgumentException>(() => TlsSettings.Load(new RabbitMqTlsOptions
        {
            ClientCertificatePath = TestBroker.Ssl("client.pem"),
        }));

        Assert.Contains("client.pem", ex.Message);
    }

    [Fact]
    public void A_missing_ca_file_is_refused_at_load_naming_the_path()
    {
        var ex = Assert.Throws<ArgumentException>(() => TlsSettings.Load(new RabbitMqTlsOptions
        {
            CaCertificatePath = "/nonexistent/ca.pem",
        }));

        Assert.Contains("Tls.CaCertificatePath '/nonexistent/ca.pem'", ex.Message);
    }

    [Fact]
    public void A_key_without_a_certificate_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => TlsSettings.Load(new RabbitMqTlsOptions
        {
            ClientKeyPath = TestBroker.Ssl("client-key.pem"),
        }));

        Assert.Contains("ClientCertificatePath", ex.Message);
    }

    [Fact]
    public void Each_endpoint_gets_tls_with_its_own_host_as_server_name_unless_one_is_configured()
    {
        var settings = TlsSettings.Load(new RabbitMqTlsOptions { CaCertificatePath = TestBroker.Ssl("ca.pem") });
        var named = TlsSettings.Load(new RabbitMqTlsOptions { ServerName = "broker.example" });

        var a = settings.CreateSslOption("node-a", new TlsFailure());
        var b = settings.CreateSslOption("node-b", new TlsFailure());

        Assert.True(a.Enabled);
        Assert.Equal("node-a", a.ServerName);
        Assert.Equal("node-b", b.ServerName);
        Assert.NotSame(a, b);
        Assert.Equal("broker.example", named.CreateSslOption("node-a", new TlsFailure()).ServerName);
    }
}
