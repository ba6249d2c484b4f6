using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Why a connection attempt failed, in words an operator can act on: the broker's refusal
/// recognised (missing vhost, refused login, missing permission, a declare the broker refuses,
/// a durable queue whose node is down) with the fix, or the client's own description.
/// </summary>
/// <param name="Key">Identifies the cause: an attempt failing for the same key is the same problem again.</param>
/// <param name="Text">What failed, with the fix where one is known; never a password.</param>
/// <param name="NeedsAction">
/// The cause will not go away by itself (configuration, permissions, the broker's settings):
/// logged at Error even when the layer was connected before.
/// </param>
internal sealed record ConnectFailure(string Key, string Text, bool NeedsAction)
{
    /// <summary>Classifies <paramref name="cause"/> for the queue <paramref name="queueName"/> of a layer with <paramref name="options"/>.</summary>
    public static ConnectFailure Of(Exception cause, string queueName, RabbitMqChannelLayerOptions options)
    {
        cause = cause is AggregateException aggregate ? aggregate.GetBaseException() : cause;
        var endpoint = AmqpUris.Parse(options.Host)[0];
        var user = endpoint.UserName;
        var vhost = endpoint.VirtualHost;
        var described = Describe(cause);

        if (cause is QueueNameConflictException)
            return new("queue-conflict", $"queue {queueName} is held by another connection (another process, or one that has just died, with the same QueueName)", false);
        if (cause is SetupLostException)
            return new("setup-lost", "the connection was lost while it was being set up", false);
        if (Has(described, "NOT_ALLOWED") && Has(described, "not found") && Has(described, "vhost"))
            return new("vhost-missing",
                $"vhost '{vhost}' does not exist; create it with `rabbitmqctl add_vhost {vhost}` and grant user '{user}' access with " +
                $"`rabbitmqctl set_permissions -p {vhost} {user} \".*\" \".*\" \".*\"` ({described})", true);
        if (Has(described, "NOT_ALLOWED") && Has(described, "access to vhost"))
            return new("vhost-access",
                $"user '{user}' has no access to vhost '{vhost}'; grant it with `rabbitmqctl set_permissions -p {vhost} {user} \".*\" \".*\" \".*\"` ({described})", true);
        if (Has(described, "ACCESS_REFUSED") && Has(described, "Login was refused") || cause.GetBaseException() is RabbitMQ.Client.Exceptions.AuthenticationFailureException)
            return new("login-refused",
                $"the broker refused the login of user '{user}': wrong user name or password" +
                (user == "guest" ? " (and user 'guest' may only connect from localhost unless the broker's loopback_users setting allows more)" : "") +
                $" ({described})", true);
        if (Has(described, "ACCESS_REFUSED") && Has(described, "refused for user"))
            return new("permission",
                $"user '{user}' lacks a permission on vhost '{vhost}' (the layer needs configure, write and read on its queue and on exchange '{options.GroupsExchange}'); " +
                $"grant them with `rabbitmqctl set_permissions -p {vhost} {user} \".*\" \".*\" \".*\"` or narrower patterns ({described})", true);
        if (Has(described, "deprecated") || Has(described, "code 541"))
            return new("deprecated-feature",
                "the broker refuses a deprecated feature (RabbitMQ 4.3 and later refuse non-durable non-exclusive queues, " +
                "transient_nonexcl_queues, and global basic.qos, global_qos, by default); this layer declares only durable (QueueMode.Durable) " +
                "or exclusive (QueueMode.Exclusive) queues, so check which client declared the queue first, or delete the queue " +
                $"(`rabbitmqctl delete_queue -p {vhost} {queueName}`) ({described})", true);
        if (Has(described, "PRECONDITION_FAILED") && Has(described, "inequivalent"))
            return new("queue-inequivalent",
                $"queue {queueName} already exists with other settings (declared by another version or configuration: QueueMode, RemoteCapacity, " +
                $"Expiry or QueueGracePeriod); delete it (`rabbitmqctl delete_queue -p {vhost} {queueName}`), let it expire, or use another QueueName ({described})", true);
        if (Has(described, "home node") || Has(described, "down or inaccessible"))
            return new("queue-node-down",
                $"queue {queueName} is a durable queue whose node is down; it is available again when that node is back. " +
                $"Use QueueMode.Exclusive to fail over to another node at once instead ({described})", true);
        if (Has(described, "Connection refused"))
            return new("tcp-refused", $"{described} (is RabbitMQ running and listening on that address and port?)", false);
        return new("other:" + described, $"{cause.GetType().Name}: {described}", cause is BrokerConnectException && Has(described, "TLS"));
    }

    private static bool Has(string text, string fragment) => text.Contains(fragment, StringComparison.OrdinalIgnoreCase);

    /// <summary>The distinct messages of the exception and its inner exceptions (at most four).</summary>
    internal static string Describe(Exception cause)
    {
        var parts = new List<string>();
        // Without their final period: the text goes inside sentences ("…: {text}. Retrying in …").
        for (var e = cause; e is not null && parts.Count < 4; e = e.InnerException)
            if (e.Message.TrimEnd('.', ' ') is var message && !parts.Contains(message)) parts.Add(message);
        return string.Join(" ← ", parts);
    }
}

/// <summary>The connection was lost between its consume starting and the attempt's end.</summary>
internal sealed class SetupLostException() : Exception("The connection was lost while it was being set up.");
