using System.Text;
using ChannelsRabbitMq.Akka.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Transport.TransportTestKit;

namespace ChannelsRabbitMq.Akka.Tests.Transport;

/// <summary>The RabbitMQ.Client transport against the real test broker (plain AMQP).</summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public class RabbitMqSessionSpecs(ITestOutputHelper output)
{
    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static async Task<uint> MessageCountAsync(IAmqpSession session, string queue)
    {
        await using var channel = await session.Connection!.CreateChannelAsync();
        var ok = await channel.QueueDeclarePassiveAsync(queue);
        return ok.MessageCount;
    }

    [Fact]
    public async Task Declared_topology_routes_published_messages_to_the_consumer_in_order_and_acks_remove_them()
    {
        var probe = new SessionProbe();
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("q");
        var exchange = UniqueName("x");
        await session.DeclareExchangeAsync(exchange, default);
        await session.DeclareQueueAsync(Queue(queue), default);
        await session.BindAsync(queue, exchange, "room", default);
        await session.StartConsumingAsync(queue, prefetch: 10, exclusive: true, default);

        await session.PublishAsync("", queue, Bytes("direct-1"), TraceHeaders.None, default);
        await session.PublishAsync(exchange, "room", Bytes("group-2"), TraceHeaders.None, default);
        await session.PublishAsync("", queue, Bytes("direct-3"), TraceHeaders.None, default);

        var received = new List<(ulong Tag, byte[] Body)>();
        for (var i = 0; i < 3; i++) received.Add(await probe.NextDeliveryAsync());
        Assert.Equal(new[] { "direct-1", "group-2", "direct-3" }, received.Select(d => Encoding.UTF8.GetString(d.Body)));

        foreach (var (tag, _) in received) session.Ack(tag);
        await WaitUntilAsync(() => QueueInfo(queue, "messages_unacknowledged")?[1] == "0");
        Assert.True(session.IsOpen);
        Assert.Equal(0, probe.Disconnects);
    }

    [Fact]
    public async Task The_queue_is_declared_with_the_wire_contract_arguments()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("args");

        await session.DeclareQueueAsync(new QueueDeclaration(queue, 7, TimeSpan.FromSeconds(60), Exclusive: false, Expires: TimeSpan.FromSeconds(30),
            Durable: true), default);

        var info = QueueInfo(queue, "durable", "exclusive", "auto_delete", "arguments");
        await session.DeleteQueueAsync(queue, default);
        Assert.NotNull(info);
        Assert.Equal(new[] { "true", "false", "false" }, info[1..4]);
        var arguments = info[4];
        Assert.Contains("{\"x-max-length\",7}", arguments);
        Assert.Contains("{\"x-overflow\",\"reject-publish\"}", arguments);
        Assert.Contains("{\"x-message-ttl\",60000}", arguments);
        Assert.Contains("{\"x-expires\",30000}", arguments);
    }

    [Fact]
    public async Task A_publish_to_a_full_queue_is_rejected()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("full");
        await session.DeclareQueueAsync(Queue(queue, maxLength: 1), default);

        await session.PublishAsync("", queue, Bytes("fits"), TraceHeaders.None, default);
        var ex = await Assert.ThrowsAsync<PublishRejectedException>(() => session.PublishAsync("", queue, Bytes("overflows"), TraceHeaders.None, default));

        Assert.IsType<PublishException>(ex.InnerException);
        Assert.True(session.IsOpen);
    }

    [Fact]
    public async Task A_publish_to_a_routing_key_without_queue_is_confirmed_and_dropped()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();

        await session.PublishAsync("", UniqueName("nobody"), Bytes("lost"), TraceHeaders.None, default).Within();

        Assert.True(session.IsOpen);
    }

    [Fact]
    public async Task A_thousand_concurrent_publishes_are_all_confirmed()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("many");
        await session.DeclareQueueAsync(Queue(queue, maxLength: 2000), default);

        var publishes = Enumerable.Range(0, 1000)
            .Select(i => Task.Run(() => session.PublishAsync("", queue, Bytes($"message {i}"), TraceHeaders.None, default)))
            .ToArray();
        await Task.WhenAll(publishes).Within(30);

        Assert.Equal(1000u, await MessageCountAsync(session, queue));
    }

    [Fact]
    public async Task QueueExists_is_false_for_a_missing_queue()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();

        Assert.False(await session.QueueExistsAsync(UniqueName("missing"), default));
        Assert.True(session.IsOpen);
    }

    [Fact]
    public async Task QueueExists_is_true_for_an_existing_queue()
    {
        await using var session = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("exists");
        await session.DeclareQueueAsync(Queue(queue), default);

        Assert.True(await session.QueueExistsAsync(queue, default));
    }

    [Fact]
    public async Task QueueExists_is_true_for_a_queue_held_exclusively_by_another_connection()
    {
        await using var owner = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        await using var other = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("locked");
        await owner.DeclareQueueAsync(Queue(queue, exclusive: true), default);

        Assert.True(await other.QueueExistsAsync(queue, default));
        Assert.True(other.IsOpen);
    }

    [Fact]
    public async Task A_failed_declare_throws_but_leaves_the_session_usable()
    {
        var probe = new SessionProbe();
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("mismatch");
        await session.DeclareQueueAsync(Queue(queue, maxLength: 5), default);

        var ex = await Assert.ThrowsAsync<OperationInterruptedException>(() => session.DeclareQueueAsync(Queue(queue, maxLength: 6), default));
        Assert.Equal(Constants.PreconditionFailed, (int?)ex.ShutdownReason?.ReplyCode);

        await session.DeclareExchangeAsync(UniqueName("after"), default);
        Assert.True(session.IsOpen);
        Assert.Equal(0, probe.Disconnects);
    }

    [Fact]
    public async Task An_exclusive_consume_of_a_queue_consumed_exclusively_elsewhere_fails_without_reporting_a_loss()
    {
        await using var owner = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var probe = new SessionProbe();
        await using var other = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("shared");
        await owner.DeclareQueueAsync(Queue(queue, exclusive: false, expires: TimeSpan.FromSeconds(30)), default);
        await owner.StartConsumingAsync(queue, 10, exclusive: true, default);

        var ex = await Assert.ThrowsAsync<OperationInterruptedException>(() => other.StartConsumingAsync(queue, 10, exclusive: true, default));

        Assert.Equal(Constants.AccessRefused, (int?)ex.ShutdownReason?.ReplyCode);
        await Task.Delay(200);
        Assert.Equal(0, probe.Disconnects);
        await owner.DeleteQueueAsync(queue, default);
    }

    [Fact]
    public async Task A_delivery_handler_that_throws_does_not_stop_the_consumer()
    {
        var probe = new SessionProbe { BeforeDelivery = body => { if (body[0] == (byte)'!') throw new InvalidOperationException("handler bug"); } };
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("throws");
        await session.DeclareQueueAsync(Queue(queue), default);
        await session.StartConsumingAsync(queue, 10, exclusive: true, default);

        await session.PublishAsync("", queue, Bytes("!boom"), TraceHeaders.None, default);
        await session.PublishAsync("", queue, Bytes("fine"), TraceHeaders.None, default);

        var (_, body) = await probe.NextDeliveryAsync();
        Assert.Equal("fine", Encoding.UTF8.GetString(body));
        Assert.True(session.IsOpen);
    }

    [Fact]
    public async Task OnDisconnected_fires_once_when_the_broker_closes_the_connection_and_publishes_then_fail_as_lost()
    {
        var probe = new SessionProbe();
        var transport = NewTransport();
        await using var session = await transport.ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("closed");
        await session.DeclareQueueAsync(Queue(queue, maxLength: 10_000_000), default);

        // Publishes issued without waiting for each other, up to 1000 in flight, so that many
        // are unconfirmed when the broker closes the connection; bounded in time.
        // They go on until the connection is gone, however long the broker takes to close it
        // (rabbitmqctl is slow on a loaded machine), with a safety net far beyond that.
        var inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishing = Task.Run(async () =>
        {
            var pending = new List<Task>();
            using var window = new SemaphoreSlim(1000);
            var until = DateTime.UtcNow.AddSeconds(120);
            while (!probe.Disconnected.IsCompleted && DateTime.UtcNow < until)
            {
                if (!await window.WaitAsync(TimeSpan.FromMilliseconds(50))) continue;
                var publish = session.PublishAsync("", queue, Bytes("x"), TraceHeaders.None, default);
                pending.Add(publish);
                if (pending.Count == 1000) inFlight.TrySetResult();
                _ = publish.ContinueWith(_ => window.Release(), TaskScheduler.Default);
            }
            return pending;
        });
        await inFlight.Task.Within();
        Assert.Equal(1, await TestBroker.CloseConnectionsAsync(transport.ConnectionName, "transport spec"));

        var reason = await probe.Disconnected.Within();
        var pending = await publishing.Within(130);
        Assert.Contains("CONNECTION_FORCED", reason);
        Assert.Contains("transport spec", reason);
        Assert.False(session.IsOpen);

        // Every publish either was confirmed before the close or fails as a lost connection,
        // including those the client had sent and was waiting to see confirmed.
        var failures = (await Task.WhenAll(pending.Select(async t =>
        {
            try { await t.Within(30); return null; }
            catch (Exception ex) { return ex; }
        }))).OfType<Exception>().ToList();
        output.WriteLine($"{pending.Count} publishes, {failures.Count} failed; inner: " +
                         string.Join(", ", failures.GroupBy(f => f.InnerException?.GetType().Name ?? "none").Select(g => $"{g.Key} {g.Count()}")));
        // (A publish that started as the connection was already closing is refused unsent.)
        Assert.All(failures, e => Assert.True(e is ConnectionLostException or PublishNotSentException, e.ToString()));
        Assert.Contains(failures, e => e is ConnectionLostException && e.InnerException is not null); // was in flight in the client
        // Refused before sending: nothing reached the broker, so the layer may send it on the next session.
        await Assert.ThrowsAsync<PublishNotSentException>(() => session.PublishAsync("", queue, Bytes("late"), TraceHeaders.None, default));
        await Task.Delay(200);
        Assert.Equal(1, probe.Disconnects);
    }

    [Fact]
    public async Task CloseAsync_does_not_report_a_disconnection_and_later_calls_fail_as_lost()
    {
        var probe = new SessionProbe();
        var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();

        await session.CloseAsync().Within();
        await session.CloseAsync().Within(); // idempotent
        await session.DisposeAsync();

        Assert.False(session.IsOpen);
        await Assert.ThrowsAsync<PublishNotSentException>(() => session.PublishAsync("", "q", Bytes("x"), TraceHeaders.None, default));
        await Assert.ThrowsAsync<ConnectionLostException>(() => session.DeclareExchangeAsync("x", default));
        session.Ack(1); // a no-op once closed
        await Task.Delay(300);
        Assert.Equal(0, probe.Disconnects);
    }

    [Fact]
    public async Task An_ack_with_an_unknown_delivery_tag_makes_the_broker_close_the_channel_which_is_reported_as_a_loss()
    {
        var probe = new SessionProbe();
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("badack");
        await session.DeclareQueueAsync(Queue(queue), default);
        await session.StartConsumingAsync(queue, 10, exclusive: true, default);

        session.Ack(424242);

        var reason = await probe.Disconnected.Within();
        Assert.Contains("PRECONDITION_FAILED", reason);
        await WaitUntilAsync(() => !session.Connection!.IsOpen);
        Assert.Equal(1, probe.Disconnects);
    }

    [Fact]
    public async Task Deleting_the_consumed_queue_is_reported_as_a_loss()
    {
        var probe = new SessionProbe();
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        await using var admin = await NewTransport().ConnectAsync(new SessionProbe().Handlers, default).Within();
        var queue = UniqueName("deleted");
        await session.DeclareQueueAsync(Queue(queue, exclusive: false, expires: TimeSpan.FromSeconds(30)), default);
        await session.StartConsumingAsync(queue, 10, exclusive: true, default);

        await admin.DeleteQueueAsync(queue, default);

        var reason = await probe.Disconnected.Within();
        Assert.Contains("cancelled the consumer", reason);
    }

    [Fact]
    public async Task Deleting_its_own_consumed_queue_is_not_reported_as_a_loss()
    {
        var probe = new SessionProbe();
        await using var session = await NewTransport().ConnectAsync(probe.Handlers, default).Within();
        var queue = UniqueName("own");
        await session.DeclareQueueAsync(Queue(queue, exclusive: false, expires: TimeSpan.FromSeconds(30)), default);
        await session.StartConsumingAsync(queue, 10, exclusive: true, default);

        await session.DeleteQueueAsync(queue, default);

        Assert.False(await session.QueueExistsAsync(queue, default));
        await Task.Delay(300);
        Assert.True(session.IsOpen);
        Assert.Equal(0, probe.Disconnects);
    }

    [Fact]
    public async Task The_connection_carries_the_client_provided_name()
    {
        var transport = NewTransport(connectionName: UniqueName("named"));
        await using var session = await transport.ConnectAsync(new SessionProbe().Handlers, default).Within();

        Assert.Equal(transport.ConnectionName, session.Connection!.ClientProvidedName);
        Assert.Single(TestBroker.ConnectionPids(transport.ConnectionName));
    }

    [Fact]
    public async Task Endpoints_are_tried_in_order_until_one_accepts()
    {
        var good = AmqpUris.Parse(TestBroker.Url)[0];
        var host = $"amqp://guest:guest@127.0.0.1:1/{Uri.EscapeDataString(good.VirtualHost)}, {TestBroker.Url}";

        await using var session = await NewTransport(host).ConnectAsync(new SessionProbe().Handlers, default).Within();

        Assert.True(session.IsOpen);
        Assert.Equal(good.Port, session.Connection!.Endpoint.Port);
    }

    [Fact]
    public async Task When_every_endpoint_fails_the_error_names_each_without_passwords()
    {
        var host = "amqp://guest:hunter2@127.0.0.1:1/asgi, amqp://guest:hunter2@127.0.0.1:2/asgi";

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => NewTransport(host).ConnectAsync(new SessionProbe().Handlers, default)).Within();

        Assert.Contains("127.0.0.1:1", ex.Message);
        Assert.Contains("127.0.0.1:2", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }

    [Fact]
    public async Task A_wrong_password_is_refused_with_a_clear_redacted_message()
    {
        var good = AmqpUris.Parse(TestBroker.Url)[0];
        var host = $"amqp://{good.UserName}:hunter2@{good.Host}:{good.Port}/{Uri.EscapeDataString(good.VirtualHost)}";

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => NewTransport(host).ConnectAsync(new SessionProbe().Handlers, default)).Within();

        Assert.Contains("ACCESS_REFUSED", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_fails_the_attempt_after_ConnectTimeout()
    {
        // Accepts TCP connections and says nothing, like a wedged broker.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var transport = NewTransport($"amqp://guest:guest@127.0.0.1:{port}/asgi", connectTimeout: TimeSpan.FromSeconds(1));
        var started = DateTime.UtcNow;

        var ex = await Assert.ThrowsAsync<BrokerConnectException>(() => transport.ConnectAsync(new SessionProbe().Handlers, default)).Within(20);

        output.WriteLine(ex.Message);
        Assert.Contains("ConnectTimeout", ex.Message);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_cancelled_connect_throws_OperationCanceledException()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => NewTransport().ConnectAsync(new SessionProbe().Handlers, cts.Token));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not become true in time.");
            await Task.Delay(100);
        }
    }
}
