using System.Text.Json;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Integration.HandWrittenMsgPack;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// What only the RabbitMQ layer does, against the real broker (<c>scripts/broker.sh start</c>):
/// connecting (plain, mutual TLS, refused, conflicting queue names), the wire contract as the
/// broker sees it (queue arguments, bindings, message bodies), and raw publishers.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed partial class RabbitMqLayerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Nothing listens on port 1: every connection attempt is refused at once.</summary>
    private const string UnreachableHost = "amqp://guest:guest@127.0.0.1:1/asgi";

    private readonly ITestOutputHelper _output;
    private readonly AkkaTestSystem _akka;
    private readonly List<AkkaTestSystem> _otherSystems = [];
    private readonly List<IChannelLayer> _layers = [];

    public RabbitMqLayerTests(ITestOutputHelper output)
    {
        _output = output;
        _akka = new AkkaTestSystem(output);
    }

    private LogRecorder Log => _akka.Log;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_layers.Select(l => l.CloseAsync())).WaitAsync(Timeout);
        }
        finally
        {
            foreach (var system in _otherSystems) await system.DisposeAsync();
            await _akka.DisposeAsync();
        }
    }

    private RabbitMqChannelLayer Layer(Action<RabbitMqChannelLayerOptions>? configure = null, AkkaTestSystem? system = null)
    {
        var options = new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.Url,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        var layer = new RabbitMqChannelLayer((system ?? _akka).System, options);
        _layers.Add(layer);
        return layer;
    }

    private AkkaTestSystem OtherSystem()
    {
        var system = new AkkaTestSystem(_output);
        _otherSystems.Add(system);
        return system;
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static Dictionary<string, object?> Msg(string type) => new() { ["type"] = type };

    private static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        Assert.IsType<string>((await layer.ReceiveAsync(channel).WaitAsync(Timeout))["type"]);

    private static async Task SendAndReceiveAsync(IChannelLayer layer)
    {
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("round.trip")).WaitAsync(Timeout);
        Assert.Equal("round.trip", await ReceiveTypeAsync(layer, channel));
    }

    private static async Task<IConnection> RawConnectionAsync() =>
        await new ConnectionFactory { Uri = new Uri(TestBroker.Url) }.CreateConnectionAsync().WaitAsync(Timeout);

    private static JsonElement[] CtlJson(params string[] args)
    {
        var json = TestBroker.Ctl([.. args, "--formatter", "json"]);
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    /// <summary>Queue arguments as rabbitmqctl's JSON shows them: <c>[["x-max-length","signedint",5], …]</c> (or an object).</summary>
    private static Dictionary<string, string> ArgumentsOf(JsonElement arguments)
    {
        var result = new Dictionary<string, string>();
        if (arguments.ValueKind == JsonValueKind.Array)
        {
            foreach (var argument in arguments.EnumerateArray())
                result[argument[0].GetString()!] = argument[argument.GetArrayLength() - 1].ToString();
        }
        else if (arguments.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in arguments.EnumerateObject()) result[property.Name] = property.Value.ToString();
        }
        return result;
    }

    private static bool BindingExists(string exchange, string queue, string routingKey) =>
        CtlJson("list_bindings", "-p", "asgi", "source_name", "destination_name", "routing_key").Any(b =>
            b.GetProperty("source_name").GetString() == exchange
            && b.GetProperty("destination_name").GetString() == queue
            && b.GetProperty("routing_key").GetString() == routingKey);

    // ------------------------------------------------------------------ connecting

    [Fact]
    public async Task Plain_TCP_sends_and_receives()
    {
        var layer = Layer(o => o.Host = TestBroker.Url);

        await SendAndReceiveAsync(layer);
    }

    [Fact]
    public async Task Mutual_TLS_with_a_PEM_client_certificate_sends_and_receives()
    {
        var layer = Layer(o =>
        {
            o.Host = TestBroker.TlsUrl;
            o.Tls = new RabbitMqTlsOptions
            {
                CaCertificatePath = TestBroker.Ssl("ca.pem"),
                ClientCertificatePath = TestBroker.Ssl("client.pem"),
                ClientKeyPath = TestBroker.Ssl("client-key.pem"),
            };
        });

        await SendAndReceiveAsync(layer);
    }

    [Fact]
    public async Task Mutual_TLS_with_a_PKCS12_client_certificate_sends_and_receives()
    {
        var layer = Layer(o =>
        {
            o.Host = TestBroker.TlsUrl;
            o.Tls = new RabbitMqTlsOptions
            {
                CaCertificatePath = TestBroker.Ssl("ca.pem"),
                ClientCertificatePath = TestBroker.Ssl("client.p12"),
                ClientCertificatePassword = TestBroker.P12Password,
            };
        });

        await SendAndReceiveAsync(layer);
    }

    [Fact]
    public async Task TLS_without_a_client_certificate_is_refused_by_the_broker_and_retried()
    {
        var layer = Layer(o =>
        {
            o.Host = TestBroker.TlsUrl;
            o.Tls = new RabbitMqTlsOptions { CaCertificatePath = TestBroker.Ssl("ca.pem") };
        });

        await Log.WaitForConnectFailuresAsync(2, Timeout);
        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_broker_certificate_from_an_untrusted_CA_is_refused_and_retried()
    {
        var layer = Layer(o =>
        {
            o.Host = TestBroker.TlsUrl;
            o.Tls = new RabbitMqTlsOptions
            {
                CaCertificatePath = TestBroker.Ssl("untrusted-ca.pem"),
                ClientCertificatePath = TestBroker.Ssl("client.pem"),
                ClientKeyPath = TestBroker.Ssl("client-key.pem"),
            };
        });

        await Log.WaitForConnectFailuresAsync(2, Timeout);
        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_broker_certificate_for_another_server_name_is_refused_and_retried()
    {
        var layer = Layer(o =>
        {
            o.Host = TestBroker.TlsUrl;
            o.Tls = new RabbitMqTlsOptions
            {
                CaCertificatePath = TestBroker.Ssl("ca.pem"),
                ClientCertificatePath = TestBroker.Ssl("client.pem"),
                ClientKeyPath = TestBroker.Ssl("client-key.pem"),
                ServerName = "not-the-broker.example",
            };
        });

        await Log.WaitForConnectFailuresAsync(2, Timeout);
        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_refused_connection_is_logged_and_retried()
    {
        var layer = Layer(o => o.Host = UnreachableHost);

        var warnings = await Log.WaitForConnectFailuresAsync(2, Timeout);

        Assert.All(warnings, w => Assert.Contains("Retrying", w, StringComparison.Ordinal));
        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Connection_failure_warnings_do_not_reveal_the_password()
    {
        var layer = Layer(o => o.Host = "amqp://guest:s3cr3t-pw@127.0.0.1:1/asgi");

        await Log.WaitForConnectFailuresAsync(1, Timeout);
        await layer.CloseAsync().WaitAsync(Timeout);

        Assert.DoesNotContain(Log.Lines, l => l.Text.Contains("s3cr3t-pw", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Close_fails_every_call_pending_while_the_broker_is_unreachable()
    {
        var layer = Layer(o => o.Host = UnreachableHost);
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        // The layer has started and is retrying: from now on every call waits for a connection.
        await Log.WaitForConnectFailuresAsync(1, Timeout);
        var calls = new Dictionary<string, Task>
        {
            ["send"] = layer.SendAsync(channel, Msg("hi")),
            ["group send"] = layer.GroupSendAsync(group, Msg("ghi")),
            ["group add"] = layer.GroupAddAsync(group, channel),
            ["group discard"] = layer.GroupDiscardAsync(group, channel), // of a member: an unbind to do
            ["receive"] = layer.ReceiveAsync(channel),
            ["get connection"] = layer.GetConnectionAsync(),
        };
        await Log.WaitForConnectFailuresAsync(2, Timeout);
        Assert.All(calls, call => Assert.False(call.Value.IsCompleted, $"{call.Key} completed while disconnected"));

        await layer.CloseAsync().WaitAsync(Timeout);

        foreach (var (name, call) in calls)
        {
            var failure = await Record.ExceptionAsync(() => call.WaitAsync(Timeout));
            Assert.True(failure is ChannelLayerClosedException, $"{name}: expected ChannelLayerClosedException, got {failure?.ToString() ?? "success"}");
        }
    }

    [Fact]
    public async Task Calls_pending_while_the_broker_is_unreachable_can_be_cancelled()
    {
        var layer = Layer(o => o.Host = UnreachableHost);
        var channel = await layer.NewChannelAsync();
        using var cts = new CancellationTokenSource();
        var calls = new Dictionary<string, Task>
        {
            ["send"] = layer.SendAsync(channel, Msg("hi"), cts.Token),
            ["group send"] = layer.GroupSendAsync(Unique("g"), Msg("ghi"), cts.Token),
            ["group add"] = layer.GroupAddAsync(Unique("g"), channel, cts.Token),
            ["get connection"] = layer.GetConnectionAsync(cts.Token),
        };
        await Log.WaitForConnectFailuresAsync(1, Timeout);

        cts.Cancel();

        foreach (var (name, call) in calls)
        {
            var failure = await Record.ExceptionAsync(() => call.WaitAsync(Timeout));
            Assert.True(failure is OperationCanceledException, $"{name}: expected OperationCanceledException, got {failure?.ToString() ?? "success"}");
        }
    }

    [Fact]
    public async Task A_second_layer_with_the_same_queue_name_stalls_its_send_until_the_first_closes()
    {
        // Two processes (actor systems) racing for one queue name, as after a reconnect to a
        // cluster that still holds the old connection (channels_rabbitmq issue #9).
        var queue = Unique("conflict");
        var first = Layer(o => o.QueueName = queue);
        await first.SendAsync($"{queue}!y", Msg("test.1")).WaitAsync(Timeout);
        Assert.Equal("test.1", await ReceiveTypeAsync(first, $"{queue}!y"));
        var otherProcess = OtherSystem();
        var second = Layer(o => o.QueueName = queue, otherProcess);

        var send = second.SendAsync($"{queue}!y", Msg("test.2"));
        var conflict = (await otherProcess.Log.WaitForConnectFailuresAsync(1, Timeout))[0];
        Assert.Contains(queue, conflict, StringComparison.Ordinal);
        Assert.False(send.IsCompleted, "the send completed while the first layer still held the queue");

        await first.CloseAsync().WaitAsync(Timeout);
        await send.WaitAsync(Timeout);

        Assert.Equal("test.2", await ReceiveTypeAsync(second, $"{queue}!y"));
    }

    [Fact]
    public async Task Two_layers_with_the_same_queue_name_in_one_actor_system_conflict_the_same_way()
    {
        var queue = Unique("conflict");
        var first = Layer(o => o.QueueName = queue);
        await first.SendAsync($"{queue}!y", Msg("test.1")).WaitAsync(Timeout);
        Assert.Equal("test.1", await ReceiveTypeAsync(first, $"{queue}!y"));

        var second = Layer(o => o.QueueName = queue);
        var send = second.SendAsync($"{queue}!y", Msg("test.2"));
        await Log.WaitForConnectFailuresAsync(1, Timeout);
        Assert.False(send.IsCompleted, "the send completed while the first layer still held the queue");

        await first.CloseAsync().WaitAsync(Timeout);
        await send.WaitAsync(Timeout);

        Assert.Equal("test.2", await ReceiveTypeAsync(second, $"{queue}!y"));
    }

    [Fact]
    public async Task After_the_broker_closes_the_connection_the_layer_reconnects_and_its_groups_still_work()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        var before = await layer.GetConnectionAsync().WaitAsync(Timeout);

        Assert.Equal(1, await TestBroker.CloseConnectionsAsync($"ChannelsRabbitMq.Akka {layer.QueueName}").WaitAsync(Timeout));
        await Log.WaitForWarningAsync("Lost the connection", Timeout);
        var after = await layer.GetConnectionAsync().WaitAsync(Timeout); // waits for the reconnect

        Assert.NotSame(before, after);
        Assert.True(after.IsOpen);
        await layer.GroupSendAsync(group, Msg("after.reconnect")).WaitAsync(Timeout);
        Assert.Equal("after.reconnect", await ReceiveTypeAsync(layer, channel));
    }

    // ------------------------------------------------------------------ the connection for users

    [Fact]
    public async Task GetConnectionAsync_returns_an_open_connection_usable_for_the_users_own_queues()
    {
        var layer = Layer();

        var connection = await layer.GetConnectionAsync().WaitAsync(Timeout);

        Assert.True(connection.IsOpen);
        var jobs = Unique("jobs");
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(jobs, durable: false, exclusive: true, autoDelete: true);
            await channel.BasicPublishAsync(exchange: "", routingKey: jobs, body: "job-1"u8.ToArray());
            var got = await channel.BasicGetAsync(jobs, autoAck: true);
            Assert.NotNull(got);
            Assert.Equal("job-1"u8.ToArray(), got.Body.ToArray());
        }
        // The layer's own traffic is unaffected.
        await SendAndReceiveAsync(layer);
    }

    // ------------------------------------------------------------------ the wire contract, as the broker sees it

    [GeneratedRegex("^channels_[A-Za-z]{12}$")]
    private static partial Regex GeneratedQueueName();

    [Fact]
    public async Task With_QueueMode_Exclusive_the_queue_is_exclusive_with_the_wire_contract_arguments_and_a_generated_name()
    {
        var layer = Layer(o =>
        {
            o.QueueMode = QueueMode.Exclusive;
            o.RemoteCapacity = 7;
            o.Expiry = TimeSpan.FromMilliseconds(12345);
        });
        await SendAndReceiveAsync(layer);

        var queue = Assert.Single(CtlJson("list_queues", "-p", "asgi", "name", "arguments", "exclusive", "durable"),
            q => q.GetProperty("name").GetString() == layer.QueueName);

        Assert.Matches(GeneratedQueueName(), layer.QueueName);
        Assert.True(queue.GetProperty("exclusive").GetBoolean());
        Assert.False(queue.GetProperty("durable").GetBoolean());
        var arguments = ArgumentsOf(queue.GetProperty("arguments"));
        Assert.Equal("7", arguments.GetValueOrDefault("x-max-length"));
        Assert.Equal("reject-publish", arguments.GetValueOrDefault("x-overflow"));
        Assert.Equal("12345", arguments.GetValueOrDefault("x-message-ttl"));
        Assert.False(arguments.ContainsKey("x-expires"));
    }

    [Fact]
    public async Task By_default_with_one_host_the_queue_is_durable_outlives_its_connection_for_the_grace_period_and_is_consumed_exclusively()
    {
        var layer = Layer(o =>
        {
            o.RemoteCapacity = 7;
            o.Expiry = TimeSpan.FromMilliseconds(12345);
            o.QueueGracePeriod = TimeSpan.FromSeconds(9);
        });
        await SendAndReceiveAsync(layer);

        var queue = Assert.Single(CtlJson("list_queues", "-p", "asgi", "name", "arguments", "exclusive", "durable", "auto_delete"),
            q => q.GetProperty("name").GetString() == layer.QueueName);
        Assert.False(queue.GetProperty("exclusive").GetBoolean());
        // RabbitMQ 4.3 refuses non-durable non-exclusive queues (transient_nonexcl_queues).
        Assert.True(queue.GetProperty("durable").GetBoolean());
        Assert.False(queue.GetProperty("auto_delete").GetBoolean());
        // The layer consumes exclusively: another consumer is refused.
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(TestBroker.Url) };
        await using var other = await factory.CreateConnectionAsync();
        await using var channel = await other.CreateChannelAsync();
        var refused = await Assert.ThrowsAsync<RabbitMQ.Client.Exceptions.OperationInterruptedException>(() =>
            channel.BasicConsumeAsync(layer.QueueName, autoAck: false, new RabbitMQ.Client.AsyncDefaultBasicConsumer(channel)));
        Assert.Equal((ushort)403, refused.ShutdownReason?.ReplyCode);
        var arguments = ArgumentsOf(queue.GetProperty("arguments"));
        Assert.Equal("9000", arguments.GetValueOrDefault("x-expires"));
        Assert.Equal("7", arguments.GetValueOrDefault("x-max-length"));
        Assert.Equal("reject-publish", arguments.GetValueOrDefault("x-overflow"));
        Assert.Equal("12345", arguments.GetValueOrDefault("x-message-ttl"));
    }

    [Fact]
    public async Task By_default_with_several_hosts_the_queue_is_exclusive_so_it_fails_over_to_another_node()
    {
        // Two URIs (here the same node twice) stand for the nodes of a cluster.
        var layer = Layer(o => o.Host = $"{TestBroker.Url},{TestBroker.Url}");
        await SendAndReceiveAsync(layer);

        var queue = Assert.Single(CtlJson("list_queues", "-p", "asgi", "name", "exclusive", "durable"),
            q => q.GetProperty("name").GetString() == layer.QueueName);
        Assert.True(queue.GetProperty("exclusive").GetBoolean());
        Assert.False(queue.GetProperty("durable").GetBoolean());
    }

    [Fact]
    public async Task The_queue_mode_in_use_is_logged_at_start()
    {
        var layer = Layer();

        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        await Log.WaitForAsync(l => l.Level == global::Akka.Event.LogLevel.InfoLevel
                                    && l.Text.Contains($"queue {layer.QueueName} in QueueMode Durable (Auto: one host)", StringComparison.Ordinal),
            1, Timeout, "naming the queue mode in use");
    }

    [Fact]
    public async Task A_clean_close_deletes_a_queue_that_would_outlive_its_connection()
    {
        var layer = Layer();
        await SendAndReceiveAsync(layer);

        await layer.CloseAsync().WaitAsync(Timeout);

        Assert.DoesNotContain(CtlJson("list_queues", "-p", "asgi", "name"), q => q.GetProperty("name").GetString() == layer.QueueName);
    }

    [Fact]
    public async Task The_consumer_acks_manually_with_a_prefetch_of_LocalCapacity()
    {
        var layer = Layer(o => o.LocalCapacity = 37);
        await SendAndReceiveAsync(layer);

        var consumer = Assert.Single(CtlJson("list_consumers", "-p", "asgi", "queue_name", "ack_required", "prefetch_count"),
            c => c.GetProperty("queue_name").GetString() == layer.QueueName);

        Assert.True(consumer.GetProperty("ack_required").GetBoolean());
        Assert.Equal(37, consumer.GetProperty("prefetch_count").GetInt32());
    }

    [Fact]
    public async Task The_groups_exchange_is_a_direct_exchange_neither_durable_nor_auto_deleted()
    {
        var layer = Layer();
        await layer.GroupAddAsync(Unique("g"), await layer.NewChannelAsync()).WaitAsync(Timeout);

        var exchange = Assert.Single(CtlJson("list_exchanges", "-p", "asgi", "name", "type", "durable", "auto_delete"),
            e => e.GetProperty("name").GetString() == "groups");

        Assert.Equal("direct", exchange.GetProperty("type").GetString());
        Assert.False(exchange.GetProperty("durable").GetBoolean());
        Assert.False(exchange.GetProperty("auto_delete").GetBoolean());
    }

    [Fact]
    public async Task A_group_binding_appears_on_the_first_group_add()
    {
        var layer = Layer();
        var group = Unique("g");

        await layer.GroupAddAsync(group, await layer.NewChannelAsync()).WaitAsync(Timeout);

        Assert.True(BindingExists("groups", layer.QueueName, group), $"no binding groups → {layer.QueueName} ({group})");
    }

    [Fact]
    public async Task A_group_binding_stays_until_the_last_local_member_leaves()
    {
        var layer = Layer();
        var group = Unique("g");
        var first = await layer.NewChannelAsync();
        var second = await layer.NewChannelAsync();
        await layer.GroupAddAsync(group, first).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, second).WaitAsync(Timeout);

        await layer.GroupDiscardAsync(group, first).WaitAsync(Timeout);
        Assert.True(BindingExists("groups", layer.QueueName, group), "the binding went away while a member remained");

        await layer.GroupDiscardAsync(group, second).WaitAsync(Timeout);
        Assert.False(BindingExists("groups", layer.QueueName, group), "the binding outlived the last member");
    }

    [Fact]
    public async Task A_sent_message_is_a_msgpack_map_of_its_keys_and_the_channel_with_bytes_as_bin()
    {
        await using var raw = await RawConnectionAsync();
        await using var rawChannel = await raw.CreateChannelAsync();
        var queue = Unique("raw");
        await rawChannel.QueueDeclareAsync(queue, durable: false, exclusive: true, autoDelete: true);
        var layer = Layer();

        await layer.SendAsync($"{queue}!x", new Dictionary<string, object?>
        {
            ["type"] = "wire.check",
            ["bin"] = new byte[] { 1, 2, 3 },
            ["s"] = "é",
        }).WaitAsync(Timeout);
        var got = await rawChannel.BasicGetAsync(queue, autoAck: true);

        Assert.NotNull(got);
        var body = got.Body.ToArray();
        Assert.Equal(0x84, body[0]); // a map of 4 entries: 3 keys + the channel
        Assert.True(IndexOf(body, [.. Str("__asgi_channel__"), .. Str($"{queue}!x")]) > 0, "no __asgi_channel__ entry");
        Assert.True(IndexOf(body, [.. Str("type"), .. Str("wire.check")]) > 0, "no type entry");
        Assert.True(IndexOf(body, [.. Str("bin"), .. Bin(1, 2, 3)]) > 0, "bytes are not msgpack bin");
        Assert.True(IndexOf(body, [.. Str("s"), .. Str("é")]) > 0, "strings are not msgpack str (UTF-8)");
    }

    [Fact]
    public async Task A_group_message_is_a_msgpack_map_with_the_group_key_on_the_groups_exchange()
    {
        await using var raw = await RawConnectionAsync();
        await using var rawChannel = await raw.CreateChannelAsync();
        var queue = Unique("raw");
        var group = Unique("g");
        await rawChannel.QueueDeclareAsync(queue, durable: false, exclusive: true, autoDelete: true);
        var layer = Layer();
        await SendAndReceiveAsync(layer); // the layer has declared the groups exchange
        await rawChannel.QueueBindAsync(queue, "groups", group);

        await layer.GroupSendAsync(group, Msg("wire.group")).WaitAsync(Timeout);
        var got = await rawChannel.BasicGetAsync(queue, autoAck: true);

        Assert.NotNull(got);
        var body = got.Body.ToArray();
        Assert.Equal(0x82, body[0]); // type + the group
        Assert.True(IndexOf(body, [.. Str("__asgi_group__"), .. Str(group)]) > 0, "no __asgi_group__ entry");
        Assert.Equal(-1, IndexOf(body, Str("__asgi_channel__")));
    }

    [Fact]
    public async Task A_message_published_by_a_raw_client_with_a_hand_written_msgpack_body_is_received()
    {
        var layer = Layer();
        await SendAndReceiveAsync(layer); // the queue exists
        var channel = await layer.NewChannelAsync();
        var body = Map(
            Str("type"), Str("raw.message"),
            Str("__asgi_channel__"), Str(channel),
            Str("text"), Str("héllo ✓"),
            Str("small"), FixInt(-5),
            Str("i8"), Int8(-128),
            Str("u64"), UInt64(long.MaxValue),
            Str("i64"), Int64(long.MinValue),
            Str("f32"), Float32(0.5f),
            Str("f64"), Float64(2.25),
            Str("bin"), Bin(1, 2, 3),
            Str("yes"), True,
            Str("nil"), Nil,
            Str("list"), HandWrittenMsgPack.Array(FixInt(1), Str("x")),
            Str("map"), Map(Str("k"), Map(Str("deep"), False)));
        await using var raw = await RawConnectionAsync();
        await using var rawChannel = await raw.CreateChannelAsync();

        await rawChannel.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: body);
        var message = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.Equal(13, message.Count);
        Assert.Equal("raw.message", message["type"]);
        Assert.Equal("héllo ✓", message["text"]);
        Assert.Equal(-5L, Assert.IsType<long>(message["small"]));
        Assert.Equal(-128L, Assert.IsType<long>(message["i8"]));
        Assert.Equal(long.MaxValue, Assert.IsType<long>(message["u64"]));
        Assert.Equal(long.MinValue, Assert.IsType<long>(message["i64"]));
        Assert.Equal(0.5, Assert.IsType<double>(message["f32"]));
        Assert.Equal(2.25, Assert.IsType<double>(message["f64"]));
        Assert.Equal([1, 2, 3], Assert.IsType<byte[]>(message["bin"]));
        Assert.Equal(true, message["yes"]);
        Assert.Null(message["nil"]);
        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(message["list"]);
        Assert.Equal([1L, "x"], list);
        var map = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(message["map"]);
        var deep = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(map["k"]);
        Assert.Equal(false, deep["deep"]);
    }

    [Fact]
    public async Task A_malformed_body_is_logged_acked_and_dropped_and_consuming_goes_on()
    {
        var layer = Layer(o => o.LocalCapacity = 1);
        await SendAndReceiveAsync(layer);
        var channel = await layer.NewChannelAsync();
        await using var raw = await RawConnectionAsync();
        await using var rawChannel = await raw.CreateChannelAsync();
        byte[][] malformed =
        [
            [0xc1],                                              // a code msgpack never uses
            Str("not a map"),
            Map(Str("type"), Str("no.recipient")),
            Map(Str("__asgi_channel__"), FixInt(7)),             // recipient is not a string
            [0x82, 0xa4, (byte)'t', (byte)'y', (byte)'p', (byte)'e'], // truncated
        ];

        foreach (var body in malformed)
            await rawChannel.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: body);
        await Log.WaitForWarningsAsync("malformed", malformed.Length, Timeout);

        // With LocalCapacity 1 this arrives only if every malformed delivery was acked.
        await layer.SendAsync(channel, Msg("good")).WaitAsync(Timeout);
        Assert.Equal("good", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_message_larger_than_MaxMessageSize_is_refused_with_MessageTooLargeException()
    {
        var layer = Layer(o => o.MaxMessageSize = 1024);
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        var big = Msg("big");
        big["data"] = new string('x', 2000);

        await Assert.ThrowsAsync<MessageTooLargeException>(() => layer.SendAsync(channel, big));
        await Assert.ThrowsAsync<MessageTooLargeException>(() => layer.GroupSendAsync(group, big));

        await layer.SendAsync(channel, Msg("small")).WaitAsync(Timeout);
        Assert.Equal("small", await ReceiveTypeAsync(layer, channel));
    }
}
