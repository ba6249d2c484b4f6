using System.Text;

namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>One broker address of the <c>Host</c> option.</summary>
/// <remarks>
/// A class, not a record: a record's generated <c>ToString</c> would print the password.
/// </remarks>
internal sealed class AmqpEndpoint
{
    public AmqpEndpoint(bool tls, string host, int port, string userName, string password, string virtualHost)
    {
        Tls = tls;
        Host = host;
        Port = port;
        UserName = userName;
        Password = password;
        VirtualHost = virtualHost;
    }

    /// <summary>True for <c>amqps://</c>.</summary>
    public bool Tls { get; }

    /// <summary>Host name or address (IPv6 without brackets).</summary>
    public string Host { get; }

    /// <summary>Port; 5672 (amqp) or 5671 (amqps) when the URI gives none.</summary>
    public int Port { get; }

    /// <summary>User name, URL-decoded; <c>guest</c> when the URI gives none.</summary>
    public string UserName { get; }

    /// <summary>Password, URL-decoded; <c>guest</c> when the URI gives none.</summary>
    public string Password { get; }

    /// <summary>Virtual host, URL-decoded; <c>/</c> when the URI has an empty path.</summary>
    public string VirtualHost { get; }

    /// <summary>The endpoint as a URI with the password replaced by <c>***</c>: safe to log.</summary>
    public override string ToString()
    {
        var host = Host.Contains(':') ? $"[{Host}]" : Host;
        return $"{(Tls ? "amqps" : "amqp")}://{Uri.EscapeDataString(UserName)}:***@{host}:{Port}/{Uri.EscapeDataString(VirtualHost)}";
    }
}

/// <summary>
/// Parsing and redaction of the <c>Host</c> option: one or more AMQP URIs separated by commas.
/// </summary>
/// <remarks>
/// The rules are those of RabbitMQ.Client's <c>ConnectionFactory.Uri</c> (which follows the
/// AMQP URI spec loosely): scheme <c>amqp</c> or <c>amqps</c>; default ports 5672 and 5671;
/// user and password URL-decoded (a <c>+</c> stays a plus), both <c>guest</c> when absent; the
/// virtual host is the single path segment, URL-decoded, so <c>/asgi</c> is <c>asgi</c> and
/// <c>/%2F</c> is <c>/</c>; an empty path (<c>amqp://h</c> or <c>amqp://h/</c>) is the default
/// virtual host <c>/</c>. Query parameters are refused rather than silently ignored.
/// <para>
/// All URIs must name the same user, password and virtual host: the client opens a connection
/// with one set of credentials, and a list of hosts is meant for the nodes of one cluster.
/// </para>
/// <para>
/// No message produced here ever contains a password: inputs are echoed through
/// <see cref="Redact"/> only.
/// </para>
/// </remarks>
internal static class AmqpUris
{
    public const int DefaultPort = 5672;
    public const int DefaultTlsPort = 5671;
    private const string DefaultUser = "guest";
    private const string DefaultPassword = "guest";
    private const string DefaultVirtualHost = "/";

    /// <summary>Parses <paramref name="host"/>; throws <see cref="ArgumentException"/> with a redacted message when it is invalid.</summary>
    public static IReadOnlyList<AmqpEndpoint> Parse(string host)
    {
        if (string.IsNullOrWhiteSpace(host))
            throw new ArgumentException("Host must be one or more AMQP URIs (amqp:// or amqps://), separated by commas.", "Host");

        var endpoints = new List<AmqpEndpoint>();
        foreach (var part in host.Split(','))
        {
            var text = part.Trim();
            if (text.Length == 0)
                throw new ArgumentException($"Host '{Redact(host)}' contains an empty URI (check the commas).", "Host");
            endpoints.Add(ParseOne(text));
        }

        var first = endpoints[0];
        foreach (var other in endpoints.Skip(1))
        {
            if (other.UserName != first.UserName || other.Password != first.Password || other.VirtualHost != first.VirtualHost)
                throw new ArgumentException(
                    $"Host '{Redact(host)}': every URI must have the same user, password and virtual host " +
                    "(one connection is opened with one set of credentials; list the nodes of one cluster).", "Host");
        }
        return endpoints;
    }

    private static AmqpEndpoint ParseOne(string text)
    {
        string Invalid(string why) => $"Host URI '{Redact(text)}' is not a valid AMQP URI: {why}.";

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
            throw new ArgumentException(Invalid("expected amqp://user:password@host:port/vhost or amqps://..."), "Host");

        bool tls;
        if (string.Equals(uri.Scheme, "amqp", StringComparison.OrdinalIgnoreCase)) tls = false;
        else if (string.Equals(uri.Scheme, "amqps", StringComparison.OrdinalIgnoreCase)) tls = true;
        else throw new ArgumentException(Invalid($"the scheme must be amqp or amqps, not '{uri.Scheme}'"), "Host");

        var hostName = uri.DnsSafeHost;
        if (string.IsNullOrEmpty(hostName))
            throw new ArgumentException(Invalid("the host is missing"), "Host");

        var port = uri.Port;
        if (port <= 0) port = tls ? DefaultTlsPort : DefaultPort;

        var user = DefaultUser;
        var password = DefaultPassword;
        var userInfo = uri.UserInfo;
        if (userInfo.Length > 0)
        {
            var pieces = userInfo.Split(':');
            if (pieces.Length > 2)
                throw new ArgumentException(Invalid("the user information has more than one ':' (percent-encode it as %3A)"), "Host");
            user = Decode(pieces[0]);
            if (pieces.Length == 2) password = Decode(pieces[1]);
        }

        if (uri.Query.Length > 0)
            throw new ArgumentException(Invalid("query parameters are not supported"), "Host");
        if (uri.Fragment.Length > 0)
            throw new ArgumentException(Invalid("a fragment ('#') is not allowed (percent-encode '#' in a password as %23)"), "Host");

        // System.Uri keeps %2F escaped in the path, so a vhost "/" written as %2F stays one segment.
        var segments = uri.Segments;
        if (segments.Length > 2)
            throw new ArgumentException(Invalid("the path has several segments; the virtual host is one segment (percent-encode '/' as %2F)"), "Host");
        var vhost = segments.Length == 2 ? Decode(segments[1]) : DefaultVirtualHost;

        return new AmqpEndpoint(tls, hostName, port, user, password, vhost);
    }

    // As RabbitMQ.Client: URL-decode, but keep '+' a plus (it is not a space in a URI's path or user info).
    private static string Decode(string s) => Uri.UnescapeDataString(s.Replace("+", "%2B", StringComparison.Ordinal));

    /// <summary>
    /// <paramref name="host"/> with every password replaced by <c>***</c>. Works on malformed input
    /// too: whatever lies between the first <c>:</c> and the last <c>@</c> of each URI's authority
    /// is hidden, even if that hides more than the password.
    /// </summary>
    public static string Redact(string? host)
    {
        if (string.IsNullOrEmpty(host)) return host ?? "";

        // Each URI starts after a "://"; without any, the whole text is treated as one authority.
        // A URI's user information ends at the last '@' before the next "://", so an unescaped
        // '@', '/' or ',' inside a password is still covered.
        var starts = new List<int>();
        for (var i = host.IndexOf("://", StringComparison.Ordinal); i >= 0; i = host.IndexOf("://", i + 3, StringComparison.Ordinal))
            starts.Add(i + 3);
        if (starts.Count == 0) starts.Add(0);

        var sb = new StringBuilder(host.Length);
        var copied = 0;
        for (var k = 0; k < starts.Count; k++)
        {
            var start = starts[k];
            var end = k + 1 < starts.Count ? starts[k + 1] - 3 : host.Length;
            var at = host.LastIndexOf('@', end - 1, end - start);
            if (at < 0) continue;
            var colon = host.IndexOf(':', start, at - start);
            if (colon < 0) continue;
            sb.Append(host, copied, colon + 1 - copied).Append("***");
            copied = at;
        }
        sb.Append(host, copied, host.Length - copied);
        return sb.ToString();
    }
}
