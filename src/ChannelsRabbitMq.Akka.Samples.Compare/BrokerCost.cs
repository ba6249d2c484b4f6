using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Spectre.Console;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>
/// <c>compare --broker-cost</c>: RabbitMQ's CPU per group message on the layer's path, and how
/// much of it each of the layer's choices accounts for. The raw RabbitMQ.Client (no layer)
/// publishes to a direct exchange bound to two queues (two servers' queues), each consumed with
/// prefetch 100, at a fixed rate; the broker's CPU (<c>/proc/PID/stat</c>) from the first publish
/// until both consumers have everything, divided by the messages. The variants change one thing
/// each from the layer's way; they alternate within every round, in an order rotated from round to round.
/// </summary>
public static class BrokerCost
{
    /// <summary>One variant of the path.</summary>
    /// <param name="Name">Short name.</param>
    /// <param name="Description">What differs from the layer's way.</param>
    /// <param name="Confirms">Publisher confirms (the layer: on; a send's task completes on the confirm).</param>
    /// <param name="CoalescedAcks">One <c>multiple</c> ack per 10 deliveries instead of one ack per delivery (the layer: per delivery).</param>
    /// <param name="Exclusive">A non-durable queue exclusive to its consumer's connection (the layer's <c>QueueMode</c>
    /// <c>Exclusive</c>) instead of a durable one (its default on one host).</param>
    /// <param name="QueueArguments">The layer's <c>x-max-length</c>, <c>x-overflow</c>, <c>x-message-ttl</c>.</param>
    public sealed record Variant(string Name, string Description, bool Confirms, bool CoalescedAcks, bool Exclusive, bool QueueArguments);

    /// <summary>The variants: the layer's way first.</summary>
    public static readonly IReadOnlyList<Variant> Variants =
    [
        new("layer", "as the layer does: confirms, an ack per delivery, durable queues with the layer's arguments", true, false, false, true),
        new("no-confirms", "publisher confirms off", false, false, false, true),
        new("coalesced-acks", "one multiple ack per 10 deliveries", true, true, false, true),
        new("no-arguments", "queues without x-max-length, x-overflow, x-message-ttl", true, false, false, false),
        new("exclusive", "non-durable queues exclusive to their consumer's connection (QueueMode Exclusive)", true, false, true, true),
    ];

    /// <summary>One measurement.</summary>
    public sealed record Sample(string Variant, int Round, int Messages, double Rate, double Seconds, double BrokerCpuSeconds, double BrokerUsPerMessage);

    /// <summary>The JSON document.</summary>
    public sealed record Result(string StartedUtc, string Command, int Cores, string LoadAverageBefore, string LoadAverageAfter,
        IReadOnlyList<Variant> Variants, IReadOnlyList<Sample> Samples, IReadOnlyDictionary<string, double> MedianUsPerMessage);

    /// <summary>
    /// Runs <paramref name="rounds"/> rounds of every variant, <paramref name="messages"/> messages each at
    /// <paramref name="rate"/> messages/s, prints a table and writes <paramref name="jsonPath"/>.
    /// </summary>
    public static async Task<int> RunAsync(IAnsiConsole console, string rabbitUrl, int rabbitPid, int messages, double rate, int rounds,
        string jsonPath, string command, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var loadBefore = ProcessProbe.LoadAverage();
        var factory = new ConnectionFactory { Uri = new Uri(rabbitUrl) };
        var samples = new List<Sample>();
        var failed = new HashSet<string>();
        for (var round = 1; round <= rounds; round++)
        {
            // Rotated each round, so that no variant always runs first (after the pause between rounds).
            foreach (var variant in Variants.Skip((round - 1) % Variants.Count).Concat(Variants.Take((round - 1) % Variants.Count)))
            {
                Sample sample;
                try
                {
                    sample = await MeasureAsync(factory, rabbitPid, variant, round, messages, rate, cancellationToken);
                }
                catch (Exception e) when (e is RabbitMQ.Client.Exceptions.OperationInterruptedException or TimeoutException)
                {
                    // A broker that refuses the variant (a policy, a deprecated feature) fails the run, with its reason.
                    console.MarkupLineInterpolated($"  [red]round {round} {variant.Name}: {e.Message}[/]");
                    failed.Add(variant.Name);
                    continue;
                }
                samples.Add(sample);
                console.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                    $"  round {round} {variant.Name,-15} {sample.Messages} messages at {rate:0}/s in {sample.Seconds:0.0} s: broker {sample.BrokerUsPerMessage:0.0} µs per message");
            }
        }
        var medians = Variants.ToDictionary(v => v.Name, v => Median(samples.Where(s => s.Variant == v.Name).Select(s => s.BrokerUsPerMessage)));
        var table = new Table().Title($"[bold]RabbitMQ's CPU per group message to two queues[/] (median of {rounds} rounds, {messages} messages at {rate:0}/s)");
        foreach (var column in new[] { "variant", "what differs from the layer's way", "µs per message", "vs the layer's way" })
            table.AddColumn(column);
        foreach (var variant in Variants)
        {
            var us = medians[variant.Name];
            table.AddRow(variant.Name, Markup.Escape(variant.Description), us.ToString("0.0", CultureInfo.InvariantCulture),
                (us / medians["layer"] - 1).ToString("+0%;-0%;0%", CultureInfo.InvariantCulture));
        }
        console.Write(table);
        var result = new Result(started.ToString("O", CultureInfo.InvariantCulture), command, Environment.ProcessorCount, loadBefore,
            ProcessProbe.LoadAverage(), Variants, samples, medians);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(result, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }),
            cancellationToken);
        console.MarkupLineInterpolated($"JSON: {jsonPath}");
        if (failed.Count > 0) console.MarkupLineInterpolated($"[red]Not measured: {string.Join(", ", failed)}[/]");
        return failed.Count == 0 && samples.All(s => s.BrokerUsPerMessage > 0) ? 0 : 1;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task<Sample> MeasureAsync(ConnectionFactory factory, int rabbitPid, Variant variant, int round, int messages, double rate,
        CancellationToken cancellationToken)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var exchange = "compare_broker_cost_" + suffix;
        string[] queues = [$"compare_broker_cost_{suffix}_a", $"compare_broker_cost_{suffix}_b"];
        await using var publisherConnection = await factory.CreateConnectionAsync(cancellationToken);
        await using var publisher = await publisherConnection.CreateChannelAsync(
            new CreateChannelOptions(variant.Confirms, variant.Confirms, outstandingPublisherConfirmationsRateLimiter: null), cancellationToken);
        await publisher.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: false, autoDelete: false, cancellationToken: cancellationToken);
        var received = new CountdownEvent(queues.Length * messages);
        var consumers = new List<(IConnection Connection, IChannel Channel, string Queue)>();
        try
        {
            foreach (var queue in queues)
            {
                var connection = await factory.CreateConnectionAsync(cancellationToken);
                var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
                consumers.Add((connection, channel, queue));
                Dictionary<string, object?>? arguments = variant.QueueArguments
                    ? new() { ["x-max-length"] = 10_000, ["x-overflow"] = "reject-publish", ["x-message-ttl"] = 60_000 }
                    : null;
                await channel.QueueDeclareAsync(queue, durable: !variant.Exclusive, exclusive: variant.Exclusive, autoDelete: false, arguments,
                    cancellationToken: cancellationToken);
                await channel.QueueBindAsync(queue, exchange, "room", cancellationToken: cancellationToken);
                await channel.BasicQosAsync(0, 100, false, cancellationToken);
                var consumer = new AsyncEventingBasicConsumer(channel);
                var delivered = 0;
                consumer.ReceivedAsync += async (_, delivery) =>
                {
                    // Deliveries of one consumer come one at a time, in order: every 10th, and the
                    // last, acks all before it with one frame.
                    var count = ++delivered;
                    if (!variant.CoalescedAcks) await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
                    else if (count % 10 == 0 || count == messages) await channel.BasicAckAsync(delivery.DeliveryTag, multiple: true);
                    received.Signal();
                };
                await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken);
            }

            var body = new byte[200]; // about the demo's chat message
            var cpuBefore = ProcessProbe.CpuTime(rabbitPid);
            var clock = Stopwatch.StartNew();
            var inFlight = new List<Task>(64);
            for (var i = 0; i < messages; i++)
            {
                var wait = i / rate - clock.Elapsed.TotalSeconds;
                if (wait > 0.002) await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
                inFlight.Add(publisher.BasicPublishAsync(exchange, "room", body, cancellationToken).AsTask());
                if (inFlight.Count == 64)
                {
                    await Task.WhenAll(inFlight);
                    inFlight.Clear();
                }
            }
            await Task.WhenAll(inFlight);
            if (!received.Wait(TimeSpan.FromSeconds(60), cancellationToken))
                throw new TimeoutException($"{variant.Name}: {received.CurrentCount} deliveries missing after 60 s.");
            var seconds = clock.Elapsed.TotalSeconds;
            var cpu = (ProcessProbe.CpuTime(rabbitPid) - cpuBefore).TotalSeconds;
            return new Sample(variant.Name, round, messages, rate, seconds, cpu, cpu * 1e6 / messages);
        }
        finally
        {
            // Each queue on its own consumer's channel (an exclusive queue is that connection's only).
            foreach (var (connection, channel, queue) in consumers)
            {
                if (channel.IsOpen) await channel.QueueDeleteAsync(queue, cancellationToken: CancellationToken.None);
                await connection.DisposeAsync();
            }
            await using var cleanup = await publisherConnection.CreateChannelAsync(cancellationToken: CancellationToken.None);
            await cleanup.ExchangeDeleteAsync(exchange, cancellationToken: CancellationToken.None);
        }
    }
}
