using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// First-run mistakes against the real broker: each is logged at Error once, naming the fix,
/// then retried quietly (Debug), and is shown in the statistics while it lasts.
/// </summary>
public sealed class ConnectFailureTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly AkkaTestSystem _akka;
    private readonly List<RabbitMqChannelLayer> _layers = [];
    private readonly List<Action> _cleanups = [];

    public ConnectFailureTests(ITestOutputHelper output) => _akka = new AkkaTestSystem(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_layers.Select(l => l.CloseAsync())).WaitAsync(Timeout);
        }
        finally
        {
            foreach (var cleanup in _cleanups) cleanup();
            await _akka.DisposeAsync();
        }
    }

    private static string Url(string user, string password, string vhost)
    {
        var uri = new Uri(TestBroker.Url);
        return $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{uri.Host}:{uri.Port}/{Uri.EscapeDataString(vhost)}";
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private RabbitMqChannelLayer Layer(Action<RabbitMqChannelLayerOptions> configure)
    {
        var options = new RabbitMqChannelLayerOptions
        {
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        configure(options);
        var layer = new RabbitMqChannelLayer(_akka.System, options);
        _layers.Add(layer);
        return layer;
    }

    /// <summary>Waits for three failed attempts; checks the first is the only Error, names <paramref name="fix"/>, and the others are Debug.</summary>
    private async Task<string> AssertLoggedOnceAtErrorAsync(RabbitMqChannelLayer layer, string fix)
    {
        var failures = await _akka.Log.WaitForAsync(l => l.Text.StartsWith("Failure connecting", StringComparison.Ordinal), 3, Timeout,
            "starting \"Failure connecting\"");
        Assert.Equal(LogLevel.ErrorLevel, failures[0].Level);
        Assert.Contains(fix, failures[0].Text, StringComparison.Ordinal);
        Assert.All(failures.Skip(1), f => Assert.Equal(LogLevel.DebugLevel, f.Level));
        var statistics = layer.GetStatistics();
        Assert.False(statistics.Connected);
        Assert.Contains(fix, statistics.LastConnectionError, StringComparison.Ordinal);
        return failures[0].Text;
    }

    [Fact]
    public async Task A_vhost_that_does_not_exist_is_an_error_naming_the_command_that_creates_it()
    {
        var vhost = Unique("novhost");
        var layer = Layer(o => o.Host = Url("guest", "guest", vhost));

        await AssertLoggedOnceAtErrorAsync(layer, $"vhost '{vhost}' does not exist; create it with `rabbitmqctl add_vhost {vhost}`");
    }

    [Fact]
    public async Task A_wrong_password_is_an_error_naming_the_user_and_the_guest_loopback_rule()
    {
        var layer = Layer(o => o.Host = Url("guest", "not-the-password", "asgi"));

        var text = await AssertLoggedOnceAtErrorAsync(layer, "the broker refused the login of user 'guest': wrong user name or password");
        Assert.Contains("may only connect from localhost", text, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_without_access_to_the_vhost_is_an_error_naming_the_set_permissions_command()
    {
        var user = Unique("noperm");
        TestBroker.Ctl("add_user", user, "pw");
        _cleanups.Add(() => TestBroker.Ctl("delete_user", user));
        var layer = Layer(o => o.Host = Url(user, "pw", "asgi"));

        await AssertLoggedOnceAtErrorAsync(layer, $"user '{user}' has no access to vhost 'asgi'; grant it with `rabbitmqctl set_permissions -p asgi {user}");
    }

    [Fact]
    public async Task A_user_without_configure_permission_is_an_error_naming_the_missing_permission()
    {
        var user = Unique("readonly");
        TestBroker.Ctl("add_user", user, "pw");
        _cleanups.Add(() => TestBroker.Ctl("delete_user", user));
        TestBroker.Ctl("set_permissions", "-p", "asgi", user, "^$", ".*", ".*");
        var layer = Layer(o => o.Host = Url(user, "pw", "asgi"));

        await AssertLoggedOnceAtErrorAsync(layer, $"user '{user}' lacks a permission on vhost 'asgi'");
    }

    [Fact]
    public async Task A_queue_declared_before_with_other_arguments_is_an_error_naming_the_delete_command()
    {
        var queue = Unique("inequivalent");
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(TestBroker.Url) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-max-length"] = 3, ["x-expires"] = 60_000 });
        }
        _cleanups.Add(() => TestBroker.Ctl("delete_queue", "-p", "asgi", queue));
        var layer = Layer(o =>
        {
            o.Host = TestBroker.Url;
            o.QueueName = queue;
        });

        await AssertLoggedOnceAtErrorAsync(layer, $"queue {queue} already exists with other settings");
    }

    [Fact]
    public async Task A_closed_port_on_the_first_run_is_an_error_that_asks_whether_RabbitMQ_is_running()
    {
        var layer = Layer(o => o.Host = "amqp://guest:guest@127.0.0.1:1/asgi");

        await AssertLoggedOnceAtErrorAsync(layer, "is RabbitMQ running and listening on that address and port?");
    }

    [Fact]
    public async Task A_send_waiting_behind_a_failing_connection_stays_cancellable()
    {
        var layer = Layer(o => o.Host = Url("guest", "not-the-password", "asgi"));
        await _akka.Log.WaitForConnectFailuresAsync(1, Timeout);
        using var cts = new CancellationTokenSource();

        var send = layer.SendAsync($"{layer.QueueName}!x", new Dictionary<string, object?> { ["type"] = "t" }, cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(Timeout));
    }
}
