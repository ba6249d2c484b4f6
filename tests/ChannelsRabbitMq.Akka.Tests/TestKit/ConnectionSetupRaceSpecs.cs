using ChannelsRabbitMq.Akka.TestKit;
using ChannelsRabbitMq.Akka.Transport;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// A connection lost while the connection actor is still setting it up (after the consume started,
/// before the actor took the session into use) must still make the layer reconnect.
/// </summary>
public sealed class ConnectionSetupRaceSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public ConnectionSetupRaceSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    /// <summary>The in-memory transport, whose first session the broker drops right after its consume starts.</summary>
    private sealed class DropAfterConsumeTransport(InMemoryBroker broker) : IAmqpTransport
    {
        private readonly InMemoryTransport _inner = new(broker);
        private int _sessions;

        public async Task<IAmqpSession> ConnectAsync(AmqpSessionHandlers handlers, CancellationToken cancellationToken)
        {
            var session = (InMemoryConnection)await _inner.ConnectAsync(handlers, cancellationToken);
            return Interlocked.Increment(ref _sessions) == 1 ? new DroppedAfterConsume(session) : session;
        }

        public int Sessions => Volatile.Read(ref _sessions);
    }

    private sealed class DroppedAfterConsume(InMemoryConnection inner) : IAmqpSession
    {
        public RabbitMQ.Client.IConnection? Connection => null;
        public bool IsOpen => inner.IsOpen;
        public Task<bool> QueueExistsAsync(string queue, CancellationToken ct) => inner.QueueExistsAsync(queue, ct);
        public Task DeclareExchangeAsync(string exchange, CancellationToken ct) => inner.DeclareExchangeAsync(exchange, ct);
        public Task DeclareQueueAsync(QueueDeclaration queue, CancellationToken ct) => inner.DeclareQueueAsync(queue, ct);
        public Task BindAsync(string queue, string exchange, string key, CancellationToken ct) => inner.BindAsync(queue, exchange, key, ct);
        public Task UnbindAsync(string queue, string exchange, string key, CancellationToken ct) => inner.UnbindAsync(queue, exchange, key, ct);
        public Task DeleteQueueAsync(string queue, CancellationToken ct) => inner.DeleteQueueAsync(queue, ct);
        public Task PublishAsync(string exchange, string key, ReadOnlyMemory<byte> body, TraceHeaders trace, CancellationToken ct) => inner.PublishAsync(exchange, key, body, trace, ct);
        public void Ack(ulong deliveryTag) => inner.Ack(deliveryTag);
        public Task CloseAsync() => inner.CloseAsync();
        public ValueTask DisposeAsync() => inner.DisposeAsync();

        public async Task StartConsumingAsync(string queue, ushort prefetch, bool exclusive, CancellationToken ct)
        {
            await inner.StartConsumingAsync(queue, prefetch, exclusive, ct);
            inner.Drop("dropped during the connection's setup (test)");
            // Let the loss notice reach the connection actor before its setup completes.
            await Task.Delay(100, ct);
        }
    }

    [Fact]
    public async Task A_connection_lost_during_its_setup_is_replaced()
    {
        var broker = new InMemoryBroker();
        var transport = new DropAfterConsumeTransport(broker);
        await using var layer = new RabbitMqChannelLayer(Sys, new RabbitMqChannelLayerOptions
        {
            Host = "amqp://in-memory/race",
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
        }, transport);
        var channel = await layer.NewChannelAsync();

        await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "after.the.race" }).WaitAsync(Timeout);
        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.Equal("after.the.race", received["type"]);
        Assert.Equal(2, transport.Sessions);
    }
}
