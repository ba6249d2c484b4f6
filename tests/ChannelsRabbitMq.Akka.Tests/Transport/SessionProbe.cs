using System.Threading.Channels;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.Tests.Transport;

/// <summary>Records what a session reports, for the transport's integration specs.</summary>
internal sealed class SessionProbe
{
    private readonly Channel<(ulong Tag, byte[] Body)> _deliveries = Channel.CreateUnbounded<(ulong, byte[])>();
    private readonly TaskCompletionSource<string> _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disconnects;

    public SessionProbe()
    {
        Handlers = new AmqpSessionHandlers(
            (_, delivery) =>
            {
                var copy = delivery.Body.ToArray();
                BeforeDelivery?.Invoke(copy);
                _deliveries.Writer.TryWrite((delivery.DeliveryTag, copy));
            },
            (_, reason) =>
            {
                Interlocked.Increment(ref _disconnects);
                _disconnected.TrySetResult(reason);
            });
    }

    public AmqpSessionHandlers Handlers { get; }

    /// <summary>Runs inside the delivery callback (may throw, to test that the consumer survives).</summary>
    public Action<byte[]>? BeforeDelivery { get; set; }

    public int Disconnects => Volatile.Read(ref _disconnects);

    public Task<string> Disconnected => _disconnected.Task;

    public async Task<(ulong Tag, byte[] Body)> NextDeliveryAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _deliveries.Reader.ReadAsync(cts.Token);
    }

    public bool TryTakeDelivery(out (ulong Tag, byte[] Body) delivery) => _deliveries.Reader.TryRead(out delivery);
}

/// <summary>Opening sessions on the test broker, and unique names so specs can run in parallel.</summary>
internal static class TransportTestKit
{
    public static string UniqueName(string what) => $"transport-spec-{what}-{Guid.NewGuid():N}";

    public static RabbitMqTransport NewTransport(string? host = null, RabbitMqTlsOptions? tls = null, string? connectionName = null,
        TimeSpan? connectTimeout = null) =>
        new(new RabbitMqChannelLayerOptions
        {
            Host = host ?? TestBroker.Url,
            Tls = tls,
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10),
        }, connectionName ?? UniqueName("conn"));

    /// <summary>A queue as the layer declares it: exclusive, or (the default mode) durable with <c>x-expires</c>, which RabbitMQ 4.3+ also accepts.</summary>
    public static QueueDeclaration Queue(string name, int maxLength = 100, bool exclusive = true, TimeSpan? expires = null) =>
        new(name, maxLength, TimeSpan.FromSeconds(60), exclusive, expires, Durable: !exclusive);

    public static async Task<T> Within<T>(this Task<T> task, int seconds = 10) => await task.WaitAsync(TimeSpan.FromSeconds(seconds));

    public static async Task Within(this Task task, int seconds = 10) => await task.WaitAsync(TimeSpan.FromSeconds(seconds));

    /// <summary>Lines of <c>rabbitmqctl list_queues -p asgi name ...</c> for <paramref name="queue"/>, tab-separated columns.</summary>
    public static string[]? QueueInfo(string queue, params string[] columns)
    {
        var args = new List<string> { "list_queues", "-p", "asgi", "name" };
        args.AddRange(columns);
        foreach (var line in TestBroker.Ctl(args.ToArray()).Split('\n'))
        {
            var cells = line.Split('\t');
            if (cells[0] == queue) return cells;
        }
        return null;
    }
}
