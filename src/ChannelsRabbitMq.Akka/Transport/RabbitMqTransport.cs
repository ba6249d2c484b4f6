using System.Net.Sockets;
using System.Security.Authentication;
using Akka.Event;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace ChannelsRabbitMq.Akka.Transport;

/// <summary>
/// <see cref="IAmqpTransport"/> over RabbitMQ.Client 7: opens plain or TLS connections to the
/// URIs of <see cref="RabbitMqChannelLayerOptions.Host"/>, in order, without the client's
/// automatic recovery (the connection actor owns reconnection and topology replay).
/// </summary>
internal sealed class RabbitMqTransport : IAmqpTransport
{
    /// <summary>The connection name's prefix, as seen in <c>rabbitmqctl list_connections client_properties</c>.</summary>
    public const string ConnectionNamePrefix = "ChannelsRabbitMq.Akka";

    // Inbound bodies up to this much above MaxMessageSize still reach the layer (which can then
    // log and drop them) instead of making the client break the connection.
    private const uint InboundHeadroom = 1024 * 1024;

    // RabbitMQ refuses messages above its max_message_size, whose ceiling is 512 MiB. The client
    // must accept anything the broker can deliver: a body it refused would break the connection,
    // be requeued, and break the next connection too, wedging a queue that outlives connections.
    // The layer drops bodies over MaxMessageSize itself, with a log line.
    private const uint BrokerMessageSizeCeiling = 512u * 1024 * 1024;

    private readonly RabbitMqChannelLayerOptions _options;
    private readonly IReadOnlyList<AmqpEndpoint> _endpoints;
    private readonly TlsSettings _tls;
    private readonly ILoggingAdapter _log;
    private int _lastConnected = -1;

    /// <param name="options">The layer's options (<c>Host</c>, <c>Tls</c>, <c>ConnectTimeout</c>, <c>MaxMessageSize</c> are used).</param>
    /// <param name="connectionName">
    /// The client-provided connection name shown by the broker (management UI,
    /// <c>rabbitmqctl list_connections client_properties</c>); e.g. the prefix and the queue name.
    /// </param>
    /// <param name="log">Where the sessions log what they cannot throw (failed acks, handler exceptions).</param>
    /// <exception cref="ArgumentException">An invalid <c>Host</c> (message redacted) or an unreadable TLS file.</exception>
    public RabbitMqTransport(RabbitMqChannelLayerOptions options, string? connectionName = null, ILoggingAdapter? log = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _endpoints = AmqpUris.Parse(options.Host);
        _tls = TlsSettings.Load(options.Tls);
        _log = log ?? NoLogger.Instance;
        ConnectionName = string.IsNullOrEmpty(connectionName) ? ConnectionNamePrefix : connectionName;
    }

    /// <summary>The client-provided name of every connection this transport opens.</summary>
    public string ConnectionName { get; }

    /// <summary>The parsed broker addresses, in the order they are tried.</summary>
    public IReadOnlyList<AmqpEndpoint> Endpoints => _endpoints;

    /// <summary>
    /// Tries every endpoint in order, each for at most <c>ConnectTimeout</c>, starting with the
    /// one after the endpoint of the last session it opened (a connection is opened again after
    /// that one was lost: another node of the cluster answers at once, while the lost one may
    /// take the whole <c>ConnectTimeout</c> to fail), and returns a session on the first that accepts. On failure throws <see cref="BrokerConnectException"/>
    /// whose message names each endpoint (password redacted) and why it failed; a cancelled
    /// <paramref name="cancellationToken"/> throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        var failures = new List<string>();
        Exception? lastError = null;
        var first = (Volatile.Read(ref _lastConnected) + 1) % _endpoints.Count;
        for (var k = 0; k < _endpoints.Count; k++)
        {
            var index = (first + k) % _endpoints.Count;
            var endpoint = _endpoints[index];
            cancellationToken.ThrowIfCancellationRequested();
            var tlsFailure = new TlsFailure();
            IConnection? connection = null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.ConnectTimeout);
            try
            {
                var factory = CreateFactory(endpoint);
                var amqpEndpoint = new AmqpTcpEndpoint(endpoint.Host, endpoint.Port,
                    endpoint.Tls ? _tls.CreateSslOption(endpoint.Host, tlsFailure) : new SslOption { Enabled = false },
                    factory.MaxInboundMessageBodySize);
                connection = await factory.CreateConnectionAsync(new[] { amqpEndpoint }, ConnectionName, timeout.Token).ConfigureAwait(false);
                var session = await RabbitMqSession.OpenAsync(connection, handlers, _log, timeout.Token).ConfigureAwait(false);
                Volatile.Write(ref _lastConnected, index);
                return session;
            }
            catch (Exception ex)
            {
                if (connection is not null) await RabbitMqSession.DisposeQuietlyAsync(connection).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                    throw new OperationCanceledException("Connecting to RabbitMQ was cancelled.", ex, cancellationToken);
                lastError = ex;
                var reason = timeout.IsCancellationRequested
                    ? $"no answer within {_options.ConnectTimeout.TotalSeconds:0.###} s (ConnectTimeout)"
                    : Describe(ex, endpoint, tlsFailure);
                failures.Add($"{endpoint}: {reason}");
            }
        }

        var message = failures.Count == 1
            ? $"Failure connecting to {failures[0]}"
            : $"Failure connecting to every broker address: {string.Join("; ", failures)}";
        throw new BrokerConnectException(message, lastError);
    }

    private ConnectionFactory CreateFactory(AmqpEndpoint endpoint) => new()
    {
        UserName = endpoint.UserName,
        Password = endpoint.Password,
        VirtualHost = endpoint.VirtualHost,
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
        RequestedConnectionTimeout = _options.ConnectTimeout,
        HandshakeContinuationTimeout = _options.ConnectTimeout,
        MaxInboundMessageBodySize = Math.Max(BrokerMessageSizeCeiling, (uint)_options.MaxMessageSize + InboundHeadroom),
        ConsumerDispatchConcurrency = 1, // one delivery at a time keeps them in order
        ClientProvidedName = ConnectionName,
    };

    /// <summary>A one-line reason for a failed attempt, from the innermost useful exceptions.</summary>
    private string Describe(Exception ex, AmqpEndpoint endpoint, TlsFailure tlsFailure)
    {
        if (tlsFailure.Reason is { } refused)
            return $"TLS handshake failed: {refused}";

        var messages = new List<string>();
        var tlsRelated = false;
        var refusedBySocket = false;
        foreach (var e in Flatten(ex))
        {
            if (e is AuthenticationException or System.IO.IOException) tlsRelated = true;
            if (e is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostNotFound or SocketError.HostUnreachable or SocketError.NetworkUnreachable }) refusedBySocket = true;
            if (e is BrokerUnreachableException || e is AggregateException) continue;
            var m = e.Message.Trim();
            if (m.Length > 0 && !messages.Contains(m)) messages.Add(m);
        }
        var text = messages.Count > 0 ? string.Join(" <- ", messages) : ex.Message;
        if (endpoint.Tls && !refusedBySocket && tlsRelated)
        {
            text = $"TLS connection failed: {text}";
            if (!_tls.HasClientCertificate)
                text += " (no client certificate is configured: a broker that requires one, fail_if_no_peer_cert, ends the handshake)";
        }
        return text; // the client's messages carry no password; the endpoint is printed redacted
    }

    private static IEnumerable<Exception> Flatten(Exception ex)
    {
        var stack = new Stack<Exception>();
        stack.Push(ex);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            yield return e;
            if (e is AggregateException agg)
            {
                for (var i = agg.InnerExceptions.Count - 1; i >= 0; i--) stack.Push(agg.InnerExceptions[i]);
            }
            else if (e.InnerException is { } inner)
            {
                stack.Push(inner);
            }
        }
    }
}

/// <summary>No broker address accepted a connection; the message says why for each (passwords redacted).</summary>
internal sealed class BrokerConnectException : Exception
{
    public BrokerConnectException(string message, Exception? inner = null) : base(message, inner) { }
}
