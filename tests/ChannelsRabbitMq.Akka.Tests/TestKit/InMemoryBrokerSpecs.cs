using System.Text;
using System.Threading.Channels;
using ChannelsRabbitMq.Akka.TestKit;
using ChannelsRabbitMq.Akka.Transport;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// The in-memory broker's AMQP, driven through the transport seam as the connection actor drives
/// it: routing, queue arguments (max length with reject-publish, TTL, exclusive, expires),
/// prefetch and acks, channel errors and dropped connections.
/// </summary>
public sealed class InMemoryBrokerSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private const string Groups = "groups";

    private readonly InMemoryBroker _broker = new();

    /// <summary>A client of the broker: records deliveries (copied, as a layer must) and the loss of its connection.</summary>
    private sealed class Client
    {
        private readonly Channel<(ulong Tag, string Body)> _deliveries = Channel.CreateUnbounded<(ulong, string)>();
        private readonly Channel<InboundDelivery> _details = Channel.CreateUnbounded<InboundDelivery>();
        private readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _lostCount;

        public IAmqpSession Session { get; private set; } = null!;

        public Task<string> Lost => _lost.Task;

        public int LostCount => Volatile.Read(ref _lostCount);

        /// <summary>The first delivery's body memory, kept after the callback (which a layer must not do).</summary>
        public ReadOnlyMemory<byte>? KeptBody { get; private set; }

        public bool KeepBodies { get; init; }

        public static async Task<Client> ConnectAsync(InMemoryBroker broker, bool keepBodies = false)
        {
            var client = new Client { KeepBodies = keepBodies };
            var transport = new InMemoryTransport(broker);
            client.Session = await transport.ConnectAsync(new AmqpSessionHandlers(
                (_, delivery) =>
                {
                    var (tag, body) = (delivery.DeliveryTag, delivery.Body);
                    if (client.KeepBodies && client.KeptBody is null) client.KeptBody = body;
                    client._deliveries.Writer.TryWrite((tag, Encoding.UTF8.GetString(body.Span)));
                    client._details.Writer.TryWrite(delivery with { Body = body.ToArray() });
                },
                (_, reason) =>
                {
                    Interlocked.Increment(ref client._lostCount);
                    client._lost.TrySetResult(reason);
                }), CancellationToken.None);
            return client;
        }

        public async Task<(ulong Tag, string Body)> NextAsync()
        {
            var next = await _deliveries.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
            LastDelivery = await _details.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
            return next;
        }

        /// <summary>The whole delivery last returned by <see cref="NextAsync"/> (flags and headers).</summary>
        public InboundDelivery LastDelivery { get; private set; }

        public bool TryNext(out (ulong Tag, string Body) delivery) => _deliveries.Reader.TryRead(out delivery);

        public Task PublishAsync(string exchange, string routingKey, string body, TraceHeaders trace = default) =>
            Session.PublishAsync(exchange, routingKey, Encoding.UTF8.GetBytes(body), trace, CancellationToken.None);

        public Task DeclareAsync(string queue, int maxLength = 100, TimeSpan? ttl = null, bool exclusive = true, TimeSpan? expires = null) =>
            Session.DeclareQueueAsync(new QueueDeclaration(queue, maxLength, ttl ?? TimeSpan.FromMinutes(1), exclusive, expires), CancellationToken.None);

        public Task ConsumeAsync(string queue, ushort prefetch = 100) => Session.StartConsumingAsync(queue, prefetch, exclusive: false, CancellationToken.None);
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>
    /// Proves that nothing more is on its way to <paramref name="client"/>'s queue: a sentinel published
    /// after the action goes through the same queue in order, so it arrives first only if nothing did.
    /// </summary>
    private static async Task ExpectOnlySentinelAsync(Client client, string queue)
    {
        await client.PublishAsync("", queue, "sentinel");
        var next = await client.NextAsync();
        Assert.Equal("sentinel", next.Body);
        client.Session.Ack(next.Tag);
    }

    [Fact]
    public async Task The_default_exchange_routes_to_the_queue_named_by_the_routing_key_in_order()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue);

        for (var i = 0; i < 20; i++) await client.PublishAsync("", queue, $"m{i}");

        for (var i = 0; i < 20; i++)
        {
            var delivery = await client.NextAsync();
            Assert.Equal($"m{i}", delivery.Body);
            client.Session.Ack(delivery.Tag);
        }
    }

    [Fact]
    public async Task An_unroutable_message_is_confirmed_and_dropped()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue);
        await client.Session.DeclareExchangeAsync(Groups, CancellationToken.None);

        await client.PublishAsync("", Unique("nobody"), "lost");
        await client.PublishAsync(Groups, Unique("unbound-group"), "lost too");

        await ExpectOnlySentinelAsync(client, queue);
    }

    [Fact]
    public async Task A_direct_exchange_routes_to_every_bound_queue_once()
    {
        var a = await Client.ConnectAsync(_broker);
        var b = await Client.ConnectAsync(_broker);
        var qa = Unique("qa");
        var qb = Unique("qb");
        await a.DeclareAsync(qa);
        await b.DeclareAsync(qb);
        await a.Session.DeclareExchangeAsync(Groups, CancellationToken.None);
        await a.Session.BindAsync(qa, Groups, "room", CancellationToken.None);
        await a.Session.BindAsync(qa, Groups, "room", CancellationToken.None); // a binding is a set
        await b.Session.BindAsync(qb, Groups, "room", CancellationToken.None);
        await a.ConsumeAsync(qa);
        await b.ConsumeAsync(qb);

        await a.PublishAsync(Groups, "room", "hello room");

        Assert.Equal("hello room", (await a.NextAsync()).Body);
        Assert.Equal("hello room", (await b.NextAsync()).Body);
        Assert.Equal(["room"], _broker.BindingKeys(qa));
        await b.Session.UnbindAsync(qb, Groups, "room", CancellationToken.None);
        await b.Session.UnbindAsync(qb, Groups, "never-bound", CancellationToken.None);
        Assert.Empty(_broker.BindingKeys(qb));
    }

    [Fact]
    public async Task Max_length_counts_ready_messages_only_and_a_full_queue_nacks_with_reject_publish()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue, maxLength: 2);
        await client.ConsumeAsync(queue, prefetch: 1);

        await client.PublishAsync("", queue, "m1"); // delivered, unacked: does not count
        await client.PublishAsync("", queue, "m2");
        await client.PublishAsync("", queue, "m3");

        await Assert.ThrowsAsync<PublishRejectedException>(() => client.PublishAsync("", queue, "m4"));
        Assert.Equal(2, _broker.ReadyCount(queue));
        var first = await client.NextAsync();
        Assert.Equal("m1", first.Body);
        client.Session.Ack(first.Tag); // m2 moves to the consumer: room for one more
        await client.PublishAsync("", queue, "m5");
        Assert.Equal(["m2", "m3", "m5"], await DrainAsync(client, 3));
    }

    [Fact]
    public async Task A_message_refused_by_one_full_queue_still_reaches_the_other_bound_queues_and_is_nacked()
    {
        var client = await Client.ConnectAsync(_broker);
        var full = Unique("full");
        var roomy = Unique("roomy");
        await client.DeclareAsync(full, maxLength: 1);
        await client.DeclareAsync(roomy);
        await client.Session.DeclareExchangeAsync(Groups, CancellationToken.None);
        await client.Session.BindAsync(full, Groups, "g", CancellationToken.None);
        await client.Session.BindAsync(roomy, Groups, "g", CancellationToken.None);
        await client.PublishAsync("", full, "filler");

        await Assert.ThrowsAsync<PublishRejectedException>(() => client.PublishAsync(Groups, "g", "fan-out"));

        Assert.Equal(1, _broker.ReadyCount(full));
        Assert.Equal(1, _broker.ReadyCount(roomy));
    }

    [Fact]
    public async Task A_message_older_than_the_queue_TTL_is_dropped_before_delivery()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue, ttl: TimeSpan.FromMilliseconds(50));
        await client.PublishAsync("", queue, "stale");
        Assert.Equal(1, _broker.ReadyCount(queue));

        // The passing of time IS the behaviour under test.
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, _broker.ReadyCount(queue));
        await client.ConsumeAsync(queue);

        await ExpectOnlySentinelAsync(client, queue);
    }

    [Fact]
    public async Task Prefetch_limits_unacked_deliveries_and_each_ack_lets_the_next_one_through()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        for (var i = 0; i < 5; i++) await client.PublishAsync("", queue, $"m{i}");

        await client.ConsumeAsync(queue, prefetch: 2);
        var d0 = await client.NextAsync();
        var d1 = await client.NextAsync();

        Assert.Equal(["m0", "m1"], [d0.Body, d1.Body]);
        Assert.Equal(3, _broker.ReadyCount(queue)); // held back by the prefetch
        Assert.False(client.TryNext(out _));
        client.Session.Ack(d1.Tag);
        Assert.Equal("m2", (await client.NextAsync()).Body);
        Assert.Equal(2, _broker.ReadyCount(queue));
    }

    [Fact]
    public async Task An_exclusive_queue_is_deleted_with_its_connection_and_locked_to_other_connections()
    {
        var owner = await Client.ConnectAsync(_broker);
        var other = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await owner.DeclareAsync(queue);
        await owner.Session.DeclareExchangeAsync(Groups, CancellationToken.None);
        await owner.Session.BindAsync(queue, Groups, "g", CancellationToken.None);

        // A passive declare finds it (RabbitMQ: 405 RESOURCE_LOCKED, which the layer counts as "exists").
        Assert.True(await other.Session.QueueExistsAsync(queue, CancellationToken.None));
        // Failures are RabbitMQ.Client's exceptions, with RabbitMQ's reply codes.
        Assert.Equal(405, ReplyCode(await Assert.ThrowsAsync<OperationInterruptedException>(() => other.DeclareAsync(queue))));
        Assert.Equal(405, ReplyCode(await Assert.ThrowsAsync<OperationInterruptedException>(() => other.ConsumeAsync(queue))));
        Assert.Equal(405, ReplyCode(await Assert.ThrowsAsync<OperationInterruptedException>(
            () => other.Session.BindAsync(queue, Groups, "h", CancellationToken.None))));
        await other.PublishAsync("", queue, "publishing to it is fine");
        Assert.True(other.Session.IsOpen, "a failed declare is a channel error, not the connection's end");

        await owner.Session.CloseAsync();

        Assert.False(_broker.QueueExists(queue));
        Assert.False(await other.Session.QueueExistsAsync(queue, CancellationToken.None));
        Assert.Empty(_broker.BindingKeys(queue));
        Assert.Equal(1, _broker.ConnectionCount);
        Assert.Equal(0, owner.LostCount); // a close the client asked for is not reported
    }

    [Fact]
    public async Task A_dropped_connection_is_reported_once_loses_its_exclusive_queue_and_delivers_nothing_more()
    {
        var client = await Client.ConnectAsync(_broker);
        var sender = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue, prefetch: 1);
        await sender.PublishAsync("", queue, "m1");
        await sender.PublishAsync("", queue, "m2");
        var first = await client.NextAsync();

        Assert.Equal(2, _broker.DropAllConnections("test drop"));

        Assert.Equal("test drop", await client.Lost.WaitAsync(Timeout));
        Assert.Equal("test drop", await sender.Lost.WaitAsync(Timeout));
        Assert.False(client.Session.IsOpen);
        Assert.False(_broker.QueueExists(queue));
        client.Session.Ack(first.Tag); // an ack after the end does nothing
        await Assert.ThrowsAsync<ConnectionLostException>(() => client.PublishAsync("", queue, "x"));
        await Assert.ThrowsAsync<ConnectionLostException>(() => client.DeclareAsync(queue));
        Assert.Equal(1, client.LostCount);
        Assert.Equal(0, _broker.ConnectionCount);
    }

    [Fact]
    public async Task An_ack_of_an_unknown_delivery_tag_closes_the_connection_as_RabbitMQ_closes_the_channel()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue);
        await client.PublishAsync("", queue, "m1");
        var delivery = await client.NextAsync();
        client.Session.Ack(delivery.Tag);

        client.Session.Ack(delivery.Tag); // twice: unknown now

        Assert.Contains("unknown delivery tag", await client.Lost.WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_publish_to_a_missing_exchange_closes_the_connection()
    {
        var client = await Client.ConnectAsync(_broker);

        await Assert.ThrowsAsync<ConnectionLostException>(() => client.PublishAsync("no-such-exchange", "k", "x"));

        Assert.Contains("no exchange", await client.Lost.WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_shared_queue_survives_its_consumer_and_requeues_unacked_messages_in_order()
    {
        var first = await Client.ConnectAsync(_broker);
        var queue = Unique("shared");
        await first.DeclareAsync(queue, exclusive: false, expires: TimeSpan.FromMinutes(5));
        for (var i = 0; i < 4; i++) await first.PublishAsync("", queue, $"m{i}");
        await first.ConsumeAsync(queue, prefetch: 2);
        var m0 = await first.NextAsync();
        await first.NextAsync(); // m1, never acked
        first.Session.Ack(m0.Tag);
        await first.NextAsync(); // m2, never acked

        _broker.DropAllConnections();
        await first.Lost.WaitAsync(Timeout);

        Assert.True(_broker.QueueExists(queue));
        var second = await Client.ConnectAsync(_broker);
        await second.ConsumeAsync(queue);
        var redelivered = new List<bool>();
        var bodies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var delivery = await second.NextAsync();
            bodies.Add(delivery.Body);
            redelivered.Add(second.LastDelivery.Redelivered);
            second.Session.Ack(delivery.Tag);
        }
        Assert.Equal(["m1", "m2", "m3"], bodies);
        Assert.Equal([true, true, false], redelivered); // as RabbitMQ flags a requeued message
    }

    [Fact]
    public async Task Trace_headers_travel_with_the_message()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue);
        var trace = new TraceHeaders("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "vendor=value");

        await client.PublishAsync("", queue, "traced", trace);
        await client.PublishAsync("", queue, "untraced");

        Assert.Equal("traced", (await client.NextAsync()).Body);
        Assert.Equal(trace, client.LastDelivery.Trace);
        Assert.False(client.LastDelivery.Redelivered);
        Assert.Equal("untraced", (await client.NextAsync()).Body);
        Assert.True(client.LastDelivery.Trace.IsEmpty);
    }

    [Fact]
    public async Task An_unused_shared_queue_with_x_expires_is_deleted()
    {
        var client = await Client.ConnectAsync(_broker);
        var queue = Unique("shared");
        await client.DeclareAsync(queue, exclusive: false, expires: TimeSpan.FromMilliseconds(50));
        Assert.True(_broker.QueueExists(queue));

        // The passing of time IS the behaviour under test.
        await Task.Delay(TimeSpan.FromMilliseconds(300));

        Assert.False(_broker.QueueExists(queue));
    }

    [Fact]
    public async Task Deleting_the_queue_another_connection_consumes_ends_that_connection()
    {
        var consumer = await Client.ConnectAsync(_broker);
        var admin = await Client.ConnectAsync(_broker);
        var queue = Unique("shared");
        await consumer.DeclareAsync(queue, exclusive: false);
        await consumer.ConsumeAsync(queue);

        await admin.Session.DeleteQueueAsync(queue, CancellationToken.None);

        Assert.Contains("cancelled the consumer", await consumer.Lost.WaitAsync(Timeout));
        Assert.True(admin.Session.IsOpen);
    }

    [Fact]
    public async Task A_delivery_body_is_valid_only_during_the_delivery_callback()
    {
        var client = await Client.ConnectAsync(_broker, keepBodies: true);
        var queue = Unique("q");
        await client.DeclareAsync(queue);
        await client.ConsumeAsync(queue);

        await client.PublishAsync("", queue, "payload");
        await client.PublishAsync("", queue, "next");
        Assert.Equal("payload", (await client.NextAsync()).Body);
        Assert.Equal("next", (await client.NextAsync()).Body); // so the first callback has returned

        // As RabbitMQ.Client's buffers are reused, the kept memory no longer holds the message.
        Assert.NotEqual("payload", Encoding.UTF8.GetString(client.KeptBody!.Value.Span));
    }

    [Fact]
    public async Task An_exclusive_consumer_keeps_other_consumers_off_a_shared_queue_with_ACCESS_REFUSED()
    {
        var first = await Client.ConnectAsync(_broker);
        var second = await Client.ConnectAsync(_broker);
        var queue = Unique("shared");
        await first.DeclareAsync(queue, exclusive: false, expires: TimeSpan.FromMinutes(1));
        await second.DeclareAsync(queue, exclusive: false, expires: TimeSpan.FromMinutes(1)); // same arguments: fine
        await first.Session.StartConsumingAsync(queue, 10, exclusive: true, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<OperationInterruptedException>(
            () => second.Session.StartConsumingAsync(queue, 10, exclusive: true, CancellationToken.None));

        Assert.Equal(403, ReplyCode(refused));
        Assert.Equal(406, ReplyCode(await Assert.ThrowsAsync<OperationInterruptedException>(() => second.DeclareAsync(queue, maxLength: 5, exclusive: false))));
    }

    private static int ReplyCode(OperationInterruptedException e) => e.ShutdownReason!.ReplyCode;

    private static async Task<List<string>> DrainAsync(Client client, int count)
    {
        var bodies = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var delivery = await client.NextAsync();
            bodies.Add(delivery.Body);
            client.Session.Ack(delivery.Tag);
        }
        return bodies;
    }
}
