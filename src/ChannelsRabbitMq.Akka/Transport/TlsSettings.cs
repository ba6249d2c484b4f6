using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;

namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>
/// The certificates of <see cref="RabbitMqTlsOptions"/>, loaded once, and the per-endpoint
/// <see cref="SslOption"/> built from them.
/// </summary>
/// <remarks>
/// <para>
/// Files are read when the transport is created, so a wrong path or password is an
/// <see cref="ArgumentException"/> at start-up rather than a connection failure retried forever.
/// </para>
/// <para>
/// The broker's certificate is always checked by our own callback. With a CA file the callback
/// rejects a name mismatch or a missing certificate itself (a callback replaces the client's own
/// policy check entirely), then builds the chain with <see cref="X509ChainTrustMode.CustomRootTrust"/>
/// so that only the configured CA is trusted. Without a CA file it accepts exactly what the
/// system's validation accepts. Either way it records why it refused, because SslStream only
/// says "rejected by the provided RemoteCertificateValidationCallback".
/// </para>
/// </remarks>
internal sealed class TlsSettings
{
    private readonly X509Certificate2Collection? _trustedCas;
    private readonly string? _caPath;
    private readonly X509Certificate2Collection? _clientCertificates;
    private readonly string? _serverName;

    private TlsSettings(X509Certificate2Collection? trustedCas, string? caPath, X509Certificate2Collection? clientCertificates, string? serverName)
    {
        _trustedCas = trustedCas;
        _caPath = caPath;
        _clientCertificates = clientCertificates;
        _serverName = serverName;
    }

    /// <summary>True when a client certificate is configured (mutual TLS).</summary>
    public bool HasClientCertificate => _clientCertificates is not null;

    /// <summary>The client certificate, if any (for tests and logs).</summary>
    public X509Certificate2? ClientCertificate => _clientCertificates is { Count: > 0 } c ? c[0] : null;

    /// <summary>Loads the files named by <paramref name="options"/>; null options mean system trust and no client certificate.</summary>
    /// <exception cref="ArgumentException">A file is missing, unreadable, or not what it should be.</exception>
    public static TlsSettings Load(RabbitMqTlsOptions? options)
    {
        if (options is null) return new TlsSettings(null, null, null, null);

        X509Certificate2Collection? cas = null;
        if (!string.IsNullOrEmpty(options.CaCertificatePath))
            cas = LoadCas(options.CaCertificatePath);

        X509Certificate2Collection? client = null;
        if (!string.IsNullOrEmpty(options.ClientCertificatePath))
        {
            client = new X509Certificate2Collection(LoadClientCertificate(options.ClientCertificatePath, options.ClientKeyPath, options.ClientCertificatePassword));
        }
        else if (!string.IsNullOrEmpty(options.ClientKeyPath))
        {
            throw new ArgumentException("Tls.ClientKeyPath is set but Tls.ClientCertificatePath is not: set both for a PEM client certificate.", "Tls");
        }

        var serverName = string.IsNullOrEmpty(options.ServerName) ? null : options.ServerName;
        return new TlsSettings(cas, options.CaCertificatePath, client, serverName);
    }

    /// <summary>
    /// TLS settings for one endpoint. <paramref name="failure"/> receives the reason when the
    /// broker's certificate is refused.
    /// </summary>
    public SslOption CreateSslOption(string host, TlsFailure failure)
    {
        var serverName = _serverName ?? host;
        return new SslOption
        {
            Enabled = true,
            ServerName = serverName,
            Version = SslProtocols.None, // the operating system's choice (TLS 1.2 / 1.3)
            AcceptablePolicyErrors = SslPolicyErrors.None,
            CheckCertificateRevocation = false,
            Certs = _clientCertificates,
            CertificateValidationCallback = (_, certificate, chain, errors) => Validate(serverName, certificate, chain, errors, failure),
        };
    }

    private bool Validate(string serverName, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, TlsFailure failure)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            failure.Reason = "the broker presented no certificate";
            return false;
        }

        var subject = certificate.Subject;
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            failure.Reason = $"the broker's certificate ({subject}) does not match the server name '{serverName}' " +
                             "(set Tls.ServerName to the name in the certificate, or connect by that name)";
            return false;
        }

        if (_trustedCas is null)
        {
            if (errors == SslPolicyErrors.None) return true;
            failure.Reason = $"the broker's certificate ({subject}, issued by {certificate.Issuer}) is not trusted by the system's trust store" +
                             $"{DescribeChain(chain)} (set Tls.CaCertificatePath to trust a private CA)";
            return false;
        }

        using var leaf = new X509Certificate2(certificate);
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_trustedCas);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // Intermediates the broker sent are untrusted helpers for building the path; only the
        // custom trust store anchors it.
        if (chain is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            foreach (var element in chain.ChainElements)
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        }

        if (custom.Build(leaf)) return true;

        failure.Reason = $"the broker's certificate ({subject}, issued by {certificate.Issuer}) is not signed by the configured CA " +
                         $"({_caPath}: {string.Join("; ", _trustedCas.Select(c => c.Subject))}){DescribeChain(custom)}";
        return false;
    }

    private static string DescribeChain(X509Chain? chain)
    {
        if (chain is null) return "";
        var statuses = chain.ChainStatus
            .Where(s => s.Status != X509ChainStatusFlags.NoError)
            .Select(s => string.IsNullOrWhiteSpace(s.StatusInformation) ? s.Status.ToString() : $"{s.Status}: {s.StatusInformation.Trim()}")
            .Distinct()
            .ToList();
        return statuses.Count == 0 ? "" : $" [{string.Join("; ", statuses)}]";
    }

    private static X509Certificate2Collection LoadCas(string path)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            if (IsPem(path)) collection.ImportFromPemFile(path);
            else collection.Add(X509CertificateLoader.LoadCertificateFromFile(path));
            if (collection.Count == 0)
                throw new ArgumentException($"Tls.CaCertificatePath '{path}' holds no certificate.", "Tls");
            return collection;
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            throw new ArgumentException($"Tls.CaCertificatePath '{path}' could not be loaded: {ex.Message}", "Tls", ex);
        }
    }

    private static X509Certificate2 LoadClientCertificate(string certPath, string? keyPath, string? password)
    {
        X509Certificate2 loaded;
        try
        {
            if (IsPem(certPath))
            {
                using var pem = string.IsNullOrEmpty(password)
                    ? X509Certificate2.CreateFromPemFile(certPath, string.IsNullOrEmpty(keyPath) ? null : keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(certPath, password, string.IsNullOrEmpty(keyPath) ? null : keyPath);
                // A certificate made from PEM holds an ephemeral key, which some platforms' TLS
                // stacks (Windows SChannel) cannot use; a PKCS#12 round trip gives a regular one.
                loaded = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            else
            {
                if (!string.IsNullOrEmpty(keyPath))
                    throw new ArgumentException(
                        $"Tls.ClientCertificatePath '{certPath}' is not PEM (read as PKCS#12), so Tls.ClientKeyPath must not be set.", "Tls");
                loaded = X509CertificateLoader.LoadPkcs12FromFile(certPath, password);
            }
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            var what = string.IsNullOrEmpty(keyPath) ? $"'{certPath}'" : $"'{certPath}' with key '{keyPath}'";
            throw new ArgumentException($"Tls.ClientCertificatePath: the client certificate {what} could not be loaded: {ex.Message}", "Tls", ex);
        }

        if (!loaded.HasPrivateKey)
        {
            loaded.Dispose();
            throw new ArgumentException($"Tls.ClientCertificatePath '{certPath}' has no private key (set Tls.ClientKeyPath for a PEM key file).", "Tls");
        }
        return loaded;
    }

    private static bool IsPem(string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[4096];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, read).Contains("-----BEGIN", StringComparison.Ordinal);
    }
}

/// <summary>Why the broker's certificate was refused during one connection attempt to one endpoint.</summary>
internal sealed class TlsFailure
{
    private string? _reason;

    /// <summary>Null while nothing was refused.</summary>
    public string? Reason
    {
        get => Volatile.Read(ref _reason);
        set => Volatile.Write(ref _reason, value);
    }
}
