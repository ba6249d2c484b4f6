using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>The benchmark message, <c>{"type": "bench.message", "i": n, "text": …}</c>, about 100 bytes on the wire.</summary>
internal static class BenchMessages
{
    public const string Type = "bench.message";

    // With a 40-character channel name ("channels_" + 12 letters + "!bench." + 12) the body is ~100 bytes.
    public const string Text = "lorem ipsum dolor";

    /// <summary>Both sides build a fresh message per send, as an application would.</summary>
    public static Dictionary<string, object?> Create(long i) => new(3)
    {
        ["type"] = Type,
        ["i"] = i,
        ["text"] = Text,
    };

    public static byte[] EncodeForChannel(long i, string channel) =>
        WireCodec.Encode(Create(i), channel, null, 16 * 1024 * 1024);

    public static byte[] EncodeForGroup(long i, string group) =>
        WireCodec.Encode(Create(i), null, group, 16 * 1024 * 1024);

    public static long IndexOf(IReadOnlyDictionary<string, object?> message) =>
        message.TryGetValue("i", out var value) && value is long i ? i : throw new InvalidDataException("A benchmark message without its index.");
}

/// <summary>Settings shared by the layer and the baseline, so both do the same AMQP work.</summary>
internal static class BenchSettings
{
    /// <summary>Prefetch: the layer's default <c>LocalCapacity</c>.</summary>
    public const ushort Prefetch = 100;

    /// <summary>
    /// Queue max length for both sides: large, so that no publish is refused while the consumer
    /// lags behind 100 publishes in flight (with the default 100 a sender would get
    /// <c>ChannelFullException</c> and a group send would be dropped).
    /// </summary>
    public const int RemoteCapacity = 1_000_000;

    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(60);

    /// <summary>The layer's default <c>QueueGracePeriod</c> (<c>x-expires</c> of a queue that outlives its connection).</summary>
    public static readonly TimeSpan QueueGracePeriod = new RabbitMqChannelLayerOptions().QueueGracePeriod;

    /// <summary>The groups exchange of both sides (not the default one, which the test suites use).</summary>
    public const string GroupsExchange = "bench-groups";

    public static RabbitMqChannelLayerOptions LayerOptions(string host) => new()
    {
        Host = host,
        LocalCapacity = Prefetch,
        RemoteCapacity = RemoteCapacity,
        Expiry = Expiry,
        GroupsExchange = GroupsExchange,
    };
}

/// <summary>Where the layer's warnings go: counted per scenario, the first few kept for the report.</summary>
internal static class BenchLog
{
    private static readonly ConcurrentQueue<string> Lines = new();
    private static int _count;
    private static int _queueConflicts;

    public static bool Echo { get; set; }

    /// <summary>Connection attempts refused because the layer's queue name was still held (since the start).</summary>
    public static int QueueConflicts => Volatile.Read(ref _queueConflicts);

    public static void Record(LogEvent e)
    {
        var text = $"[{e.LogLevel()}] {e.LogSource}: {e.Message}";
        Interlocked.Increment(ref _count);
        if (text.Contains("held by another connection", StringComparison.Ordinal)) Interlocked.Increment(ref _queueConflicts);
        if (Lines.Count < 20) Lines.Enqueue(text);
        if (Echo) Console.Error.WriteLine(text);
    }

    /// <summary>Moves what was logged since the last call into <paramref name="result"/>.</summary>
    public static void Drain(ScenarioResult result)
    {
        result.LayerLogCount += Interlocked.Exchange(ref _count, 0);
        while (Lines.TryDequeue(out var line)) result.LayerLog.Add(line);
    }
}

/// <summary>The Akka logger of the benchmark's actor systems: warnings and errors go to <see cref="BenchLog"/>.</summary>
public sealed class BenchLogger : ReceiveActor
{
    public BenchLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<Warning>(BenchLog.Record);
        Receive<Error>(BenchLog.Record);
        ReceiveAny(_ => { });
    }
}

/// <summary>An actor system with one or more connected layers.</summary>
internal sealed class LayerSet : IAsyncDisposable
{
    private static readonly Config Hocon = ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.loggers = ["{{typeof(BenchLogger).AssemblyQualifiedName}}"]
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        """);

    private LayerSet(ActorSystem system, RabbitMqChannelLayer[] layers)
    {
        System = system;
        Layers = layers;
    }

    public ActorSystem System { get; }

    public RabbitMqChannelLayer[] Layers { get; }

    public RabbitMqChannelLayer this[int index] => Layers[index];

    public static async Task<LayerSet> StartAsync(string host, int count, Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var system = ActorSystem.Create("bench" + Guid.NewGuid().ToString("N")[..8], Hocon);
        var layers = new RabbitMqChannelLayer[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                var options = BenchSettings.LayerOptions(host);
                configure?.Invoke(options);
                layers[i] = new RabbitMqChannelLayer(system, options);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var layer in layers) await layer.WaitForConnectionAsync(timeout.Token);
            return new LayerSet(system, layers);
        }
        catch
        {
            await new LayerSet(system, layers.Where(l => l is not null).ToArray()).DisposeAsync();
            throw;
        }
    }

    /// <summary>Live channels according to the router (after it has handled everything told to it so far).</summary>
    public static async Task<int> LiveChannelsAsync(RabbitMqChannelLayer layer)
    {
        var router = await layer.RouterAsync;
        var backlog = await router.Ask<RouterActor.Backlog>(RouterActor.GetBacklog.Instance, TimeSpan.FromSeconds(60));
        return backlog.LiveChannels;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var layer in Layers)
        {
            try
            {
                await layer.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception)
            {
                // A layer that does not close in time is abandoned with its actor system.
            }
        }
        try
        {
            await System.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // Abandoned.
        }
    }
}

/// <summary>
/// The baseline: one RabbitMQ.Client 7 connection used directly, as the layer uses it (automatic
/// recovery off, a publish channel with confirmation tracking and no rate limiter, a consume
/// channel with manual acks and <see cref="BenchSettings.Prefetch"/>, one consumer dispatch).
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private RawPeer(IConnection connection, IChannel publish, IChannel consume, IChannel topology)
    {
        Connection = connection;
        Publish = publish;
        Consume = consume;
        Topology = topology;
    }

    public IConnection Connection { get; }

    /// <summary>Publisher confirms with tracking: <c>BasicPublishAsync</c> completes on the broker's ack.</summary>
    public IChannel Publish { get; }

    public IChannel Consume { get; }

    public IChannel Topology { get; }

    public static async Task<RawPeer> OpenAsync(string host, string name)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(host),
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            ConsumerDispatchConcurrency = 1,
            ClientProvidedName = name,
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var connection = await factory.CreateConnectionAsync(name, timeout.Token);
        var publish = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), timeout.Token);
        var consume = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        var topology = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        return new RawPeer(connection, publish, consume, topology);
    }

    /// <summary>
    /// Declares a queue as the layer does: by default one that outlives its connection for the
    /// layer's default grace period (<c>x-expires</c> 10 s, consumed exclusively); with
    /// <paramref name="exclusive"/> one exclusive to the connection (the Python original's).
    /// </summary>
    public async Task DeclareQueueAsync(string queue, bool exclusive = false)
    {
        var arguments = new Dictionary<string, object?>
        {
            ["x-max-length"] = BenchSettings.RemoteCapacity,
            ["x-overflow"] = "reject-publish",
            ["x-message-ttl"] = (int)BenchSettings.Expiry.TotalMilliseconds,
        };
        if (!exclusive) arguments["x-expires"] = (int)BenchSettings.QueueGracePeriod.TotalMilliseconds;
        // As the layer declares it: exclusive, or durable with x-expires (RabbitMQ 4.3+ refuses a transient non-exclusive queue).
        await Topology.QueueDeclareAsync(queue, durable: !exclusive, exclusive: exclusive, autoDelete: false, arguments);
    }

    public Task DeclareExchangeAsync() =>
        Topology.ExchangeDeclareAsync(BenchSettings.GroupsExchange, ExchangeType.Direct, durable: false, autoDelete: false);

    /// <summary>
    /// Consumes <paramref name="queue"/> with manual acks (exclusively, as the layer consumes a queue
    /// that outlives its connection); every delivery is decoded and handed to <paramref name="sink"/>.
    /// </summary>
    public async Task ConsumeAsync(string queue, RawSink sink, bool exclusiveConsume = true)
    {
        await Consume.BasicQosAsync(0, BenchSettings.Prefetch, false);
        await Consume.BasicConsumeAsync(queue, autoAck: false, consumerTag: "", noLocal: false, exclusive: exclusiveConsume,
            arguments: null, new RawConsumer(Consume, sink));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Connection.IsOpen) await Connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Already gone.
        }
        Connection.Dispose();
    }

    /// <summary>Decodes each delivery as the layer does (from the client's memory), hands it on, and acks it.</summary>
    private sealed class RawConsumer(IChannel channel, RawSink sink) : AsyncDefaultBasicConsumer(channel)
    {
        public override async Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange,
            string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        {
            var decoded = WireCodec.Decode(body);
            sink.Deliver(decoded);
            await Channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken);
        }
    }
}

/// <summary>What a baseline consumer does with a decoded delivery: count it, and optionally look at it.</summary>
internal sealed class RawSink
{
    private int _remaining;
    private TaskCompletionSource _done = NewDone();

    /// <summary>Called for each decoded delivery, on the consumer's thread.</summary>
    public Action<DecodedMessage>? OnMessage { get; set; }

    public Task Done => _done.Task;

    /// <summary>Starts a round that ends after <paramref name="expected"/> deliveries.</summary>
    public void Reset(int expected)
    {
        _done = NewDone();
        Volatile.Write(ref _remaining, expected);
    }

    public void Deliver(DecodedMessage decoded)
    {
        OnMessage?.Invoke(decoded);
        if (Interlocked.Decrement(ref _remaining) == 0) _done.TrySetResult();
    }

    private static TaskCompletionSource NewDone() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The process's CPU time and allocations over a round: steadier than wall-clock rates on a
/// shared machine (the broker's CPU is not included, and is the same for both sides).
/// </summary>
internal readonly struct CostMeter
{
    private readonly TimeSpan _cpu;
    private readonly long _allocated;
    private readonly long _workItems;
    private readonly long _contentions;
    private readonly int _gen0;

    private CostMeter(TimeSpan cpu, long allocated, long workItems, long contentions, int gen0)
    {
        _cpu = cpu;
        _allocated = allocated;
        _workItems = workItems;
        _contentions = contentions;
        _gen0 = gen0;
    }

    public static CostMeter Start() => new(Environment.CpuUsage.TotalTime, GC.GetTotalAllocatedBytes(precise: false),
        ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount, GC.CollectionCount(0));

    /// <summary>
    /// Adds "cpu µs/{unit}", "alloc B/{unit}", "work items/{unit}" (thread-pool work items, which
    /// include Akka mailbox runs), "lock contentions/{unit}" and "gen0 GCs/10k {unit}".
    /// </summary>
    public void AddTo(RoundFigures figures, long operations, string unit)
    {
        var cpu = Environment.CpuUsage.TotalTime - _cpu;
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - _allocated;
        figures[$"cpu µs/{unit}"] = cpu.TotalMicroseconds / operations;
        figures[$"alloc B/{unit}"] = allocated / (double)operations;
        figures[$"work items/{unit}"] = (ThreadPool.CompletedWorkItemCount - _workItems) / (double)operations;
        figures[$"lock contentions/{unit}"] = (Monitor.LockContentionCount - _contentions) / (double)operations;
        figures[$"gen0 GCs/10k {unit}"] = (GC.CollectionCount(0) - _gen0) * 10_000.0 / operations;
    }
}

/// <summary>Small helpers for timing and bounded waits.</summary>
internal static class Timing
{
    public static double Seconds(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;

    public static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Awaits <paramref name="task"/>, or fails the round with a clear message after <paramref name="timeout"/>.</summary>
    public static async Task Within(this Task task, TimeSpan timeout, string what)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} did not finish within {timeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Polls <paramref name="condition"/> every millisecond or so until it holds; false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> PollAsync(Func<bool> condition, TimeSpan timeout)
    {
        var start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > timeout) return false;
            await Task.Delay(1);
        }
        return true;
    }

    /// <summary>Managed heap size after a full, compacting collection, once it has stopped moving.</summary>
    public static async Task<long> SettledHeapAsync(TimeSpan maxWait)
    {
        var start = Stopwatch.GetTimestamp();
        long previous = GC.GetTotalMemory(true);
        while (Stopwatch.GetElapsedTime(start) < maxWait)
        {
            await Task.Delay(100);
            long now = GC.GetTotalMemory(true);
            if (Math.Abs(now - previous) < 64 * 1024) return now;
            previous = now;
        }
        return previous;
    }

    /// <summary>The percentile (nearest rank) of sorted values.</summary>
    public static double Percentile(double[] sorted, double percentile)
    {
        if (sorted.Length == 0) return double.NaN;
        int rank = (int)Math.Ceiling(percentile / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
