namespace ChannelsRabbitMq.Akka;

/// <summary>
/// TLS settings for an <c>amqps://</c> connection. Every path is optional: without a CA the
/// system's trust store decides; without a client certificate the connection is one-way TLS.
/// </summary>
public sealed class RabbitMqTlsOptions
{
    /// <summary>PEM file of the CA that signed the broker's certificate (trusted in addition to nothing else).</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>Client certificate for mutual TLS: a PEM certificate (with <see cref="ClientKeyPath"/>) or a PKCS#12 file.</summary>
    public string? ClientCertificatePath { get; set; }

    /// <summary>PEM private key of the client certificate (not needed for PKCS#12).</summary>
    public string? ClientKeyPath { get; set; }

    /// <summary>Password of a PKCS#12 client certificate or of an encrypted PEM key.</summary>
    public string? ClientCertificatePassword { get; set; }

    /// <summary>Name expected in the broker's certificate; defaults to the host of the URI.</summary>
    public string? ServerName { get; set; }

    /// <inheritdoc />
    public override string ToString() =>
        $"RabbitMqTlsOptions {{ CaCertificatePath = {CaCertificatePath}, ClientCertificatePath = {ClientCertificatePath}, " +
        $"ClientKeyPath = {ClientKeyPath}, ClientCertificatePassword = {(ClientCertificatePassword is null ? "null" : "***")}, ServerName = {ServerName} }}";
}
