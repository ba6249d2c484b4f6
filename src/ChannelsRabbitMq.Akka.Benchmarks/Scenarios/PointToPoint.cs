using System.Diagnostics;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;

namespace ChannelsRabbitMq.Akka.Benchmarks.Scenarios;

/// <summary>
/// Scenarios 1 and 2: point-to-point throughput with 100 sends in flight and one receive loop,
/// on one layer (one connection) or from one layer to another (two connections).
/// </summary>
internal static class PointToPoint
{
    public const int InFlight = 100;

    public static async Task RunAsync(BenchContext context, ScenarioResult result, bool twoLayers)
    {
        int count = context.Quick ? 2_000 : 30_000;
        result.Setup = $"{BenchContext.Count(count)} messages per round, {InFlight} sends in flight, one receive loop; " +
                       $"{(twoLayers ? "sender and receiver are two layers (two connections)" : "one layer sends to its own channel")}; " +
                       $"{context.Warmup} warm-up + {context.Rounds} rounds, ours and raw alternating.";

        await using var layers = await LayerSet.StartAsync(context.Host, twoLayers ? 2 : 1);
        var sender = layers[0];
        var receiver = twoLayers ? layers[1] : layers[0];
        var channel = await receiver.NewChannelAsync("bench");

        var rawQueue = Names.NewQueueName();
        var rawChannel = Names.NewChannelName(rawQueue, "bench");
        await using var rawSender = await RawPeer.OpenAsync(context.Host, "bench raw sender " + rawQueue);
        await using var rawReceiverOwned = twoLayers ? await RawPeer.OpenAsync(context.Host, "bench raw receiver " + rawQueue) : null;
        var rawReceiver = rawReceiverOwned ?? rawSender;
        await rawReceiver.DeclareQueueAsync(rawQueue);
        var sink = new RawSink();
        await rawReceiver.ConsumeAsync(rawQueue, sink);

        var (ours, raw) = await context.InterleaveAsync(twoLayers ? "2 layers" : "1 layer",
            () => OursRoundAsync(sender, receiver, channel, count, context.RoundTimeout),
            () => RawRoundAsync(rawSender, rawQueue, rawChannel, sink, count, context.RoundTimeout));

        var metric = result.Add("messages/s", "msg/s", true, ours["msgs/s"], raw["msgs/s"]);
        metric.Target = "≥ 0.95 × raw";
        metric.Met = metric.Ratio >= 0.95;
        result.Add("CPU time of this process per message", "µs", false, ours["cpu µs/msg"], raw["cpu µs/msg"])
            .Note = "user + system time of the whole process (not the broker): steadier than msg/s on a busy machine";
        result.Add("allocated per message", "B", false, ours["alloc B/msg"], raw["alloc B/msg"]);
        result.Add("thread-pool work items per message", "items", false, ours["work items/msg"], raw["work items/msg"])
            .Note = "thread-pool work items (Akka mailbox runs, continuations, socket callbacks) per message";
        result.Add("lock contentions per message", "count", false, ours["lock contentions/msg"], raw["lock contentions/msg"]);
    }

    /// <summary>One round of the layer: <paramref name="count"/> sends from 100 concurrent loops, one receive loop.</summary>
    public static async Task<RoundFigures> OursRoundAsync(IChannelLayer sender, IChannelLayer receiver, string channel, int count, TimeSpan timeout)
    {
        var cost = CostMeter.Start();
        var start = Stopwatch.GetTimestamp();
        var receiving = ReceiveLoopAsync(receiver, channel, count);
        var sending = new Task[InFlight];
        for (int w = 0; w < InFlight; w++) sending[w] = SendLoopAsync(sender, channel, w, count);
        await Task.WhenAll(sending).Within(timeout, "Sending");
        await receiving.Within(timeout, "Receiving");
        var figures = new RoundFigures { ["msgs/s"] = count / Timing.Seconds(start) };
        cost.AddTo(figures, count, "msg");
        return figures;
    }

    private static async Task SendLoopAsync(IChannelLayer layer, string channel, int worker, int count)
    {
        for (long i = worker; i < count; i += InFlight)
            await layer.SendAsync(channel, BenchMessages.Create(i));
    }

    private static async Task ReceiveLoopAsync(IChannelLayer layer, string channel, int count)
    {
        for (int n = 0; n < count; n++)
        {
            var message = await layer.ReceiveAsync(channel);
            if (message.Count != 3) throw new InvalidDataException("Received an unexpected message.");
        }
    }

    /// <summary>The same round on the raw client: encode, publish with confirms (100 in flight), consume with prefetch and acks.</summary>
    public static async Task<RoundFigures> RawRoundAsync(RawPeer sender, string queue, string channel, RawSink sink, int count, TimeSpan timeout)
    {
        sink.Reset(count);
        var cost = CostMeter.Start();
        var start = Stopwatch.GetTimestamp();
        var sending = new Task[InFlight];
        for (int w = 0; w < InFlight; w++) sending[w] = RawSendLoopAsync(sender, queue, channel, w, count);
        await Task.WhenAll(sending).Within(timeout, "Sending (raw)");
        await sink.Done.Within(timeout, "Receiving (raw)");
        var figures = new RoundFigures { ["msgs/s"] = count / Timing.Seconds(start) };
        cost.AddTo(figures, count, "msg");
        return figures;
    }

    private static async Task RawSendLoopAsync(RawPeer peer, string queue, string channel, int worker, int count)
    {
        for (long i = worker; i < count; i += InFlight)
        {
            var body = BenchMessages.EncodeForChannel(i, channel);
            await peer.Publish.BasicPublishAsync(string.Empty, queue, mandatory: false, new ReadOnlyMemory<byte>(body));
        }
    }
}
