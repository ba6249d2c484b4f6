using System.Diagnostics;
using Akka.Actor;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;

namespace ChannelsRabbitMq.Akka.Benchmarks.Scenarios;

/// <summary>
/// Scenario 3: one group of 100 members, all on one layer or spread over 4 layers; group sends
/// (100 in flight) and local deliveries per second, with receive loops or with push delivery.
/// </summary>
/// <remarks>
/// The raw baseline publishes the same group sends to the same direct exchange and consumes them
/// from one queue per "layer" with the same prefetch and acks, decoding each delivery once. It has
/// no local members: its deliveries/s is group sends × 100 as if fanning out locally were free,
/// so the ratio on group sends/s is the whole cost of the local fan-out.
/// </remarks>
internal static class FanOut
{
    public const int Members = 100;
    public const int InFlight = 100;

    public static async Task RunAsync(BenchContext context, ScenarioResult result)
    {
        int sends = context.Quick ? 500 : 10_000;
        result.Setup = $"{BenchContext.Count(sends)} group sends per round ({BenchContext.Count(sends * Members)} deliveries), " +
                       $"{InFlight} group sends in flight, {Members} members on 1 layer, or 25 on each of 4 layers (the first one sends); " +
                       $"{context.Warmup} warm-up + {context.Rounds} rounds.";
        foreach (var layers in new[] { 1, 4 })
        {
            foreach (var push in new[] { false, true })
            {
                await RunVariantAsync(context, result, layers, push, sends);
                BenchLog.Drain(result);
            }
        }
    }

    private static async Task RunVariantAsync(BenchContext context, ScenarioResult result, int layerCount, bool push, int sends)
    {
        string label = $"{layerCount} layer{(layerCount > 1 ? "s" : "")}, {(push ? "push" : "ReceiveAsync")}";
        var group = "bench-fanout-" + Guid.NewGuid().ToString("N")[..12];

        await using var layers = await LayerSet.StartAsync(context.Host, layerCount);
        var channels = new string[Members];
        var owners = new RabbitMqChannelLayer[Members];
        for (int m = 0; m < Members; m++)
        {
            owners[m] = layers[m % layerCount];
            channels[m] = await owners[m].NewChannelAsync("bench");
            await owners[m].GroupAddAsync(group, channels[m]);
        }
        IActorRef[] subscribers = [];
        if (push)
        {
            subscribers = new IActorRef[Members];
            for (int m = 0; m < Members; m++)
            {
                subscribers[m] = layers.System.ActorOf(Props.Create(() => new CountingSubscriber()));
                await owners[m].SubscribeAsync(channels[m], subscribers[m]);
            }
        }

        var rawPublisher = await RawPeer.OpenAsync(context.Host, "bench raw fan-out publisher");
        var rawConsumers = new List<RawPeer>();
        var sinks = new List<RawSink>();
        try
        {
            await rawPublisher.DeclareExchangeAsync();
            var rawGroup = "bench-fanout-raw-" + Guid.NewGuid().ToString("N")[..12];
            for (int l = 0; l < layerCount; l++)
            {
                var queue = Names.NewQueueName();
                var peer = await RawPeer.OpenAsync(context.Host, "bench raw fan-out consumer " + queue);
                rawConsumers.Add(peer);
                await peer.DeclareQueueAsync(queue);
                await peer.Topology.QueueBindAsync(queue, BenchSettings.GroupsExchange, rawGroup);
                var sink = new RawSink();
                sinks.Add(sink);
                await peer.ConsumeAsync(queue, sink);
            }

            var (ours, raw) = await context.InterleaveAsync(label,
                () => push
                    ? OursPushRoundAsync(layers[0], group, subscribers, sends, context.RoundTimeout)
                    : OursReceiveRoundAsync(layers[0], group, owners, channels, sends, context.RoundTimeout),
                () => RawRoundAsync(rawPublisher, rawGroup, sinks, sends, context.RoundTimeout));

            var sendsMetric = result.Add($"{label}: group sends/s", "send/s", true, ours["sends/s"], raw["sends/s"]);
            sendsMetric.Note = "raw = the same AMQP work without a local fan-out";
            var deliveries = result.Add($"{label}: deliveries/s", "msg/s", true, ours["deliveries/s"], raw["deliveries/s"]);
            deliveries.Target = push ? "≥ 2,000,000" : "≥ 1,000,000";
            deliveries.Met = deliveries.Ours?.Median >= (push ? 2_000_000 : 1_000_000);
            deliveries.Note = "raw = group sends × 100 (no local fan-out)";
            result.Add($"{label}: CPU time of this process per group send", "µs", false, ours["cpu µs/send"], raw["cpu µs/send"])
                .Note = "ours includes the 100 local deliveries of each send";
            result.Add($"{label}: allocated per group send", "B", false, ours["alloc B/send"], raw["alloc B/send"]);
            result.Add($"{label}: thread-pool work items per group send", "items", false, ours["work items/send"], raw["work items/send"]);
        }
        finally
        {
            foreach (var peer in rawConsumers) await peer.DisposeAsync();
            await rawPublisher.DisposeAsync();
        }
    }

    private static async Task<RoundFigures> OursReceiveRoundAsync(RabbitMqChannelLayer sender, string group,
        RabbitMqChannelLayer[] owners, string[] channels, int sends, TimeSpan timeout)
    {
        var cost = CostMeter.Start();
        var start = Stopwatch.GetTimestamp();
        var receiving = new Task[Members];
        for (int m = 0; m < Members; m++) receiving[m] = ReceiveLoopAsync(owners[m], channels[m], sends);
        await SendAllAsync(sender, group, sends).Within(timeout, "Group sending");
        await Task.WhenAll(receiving).Within(timeout, "Receiving group messages");
        return Figures(sends, start, cost);
    }

    private static async Task<RoundFigures> OursPushRoundAsync(RabbitMqChannelLayer sender, string group, IActorRef[] subscribers,
        int sends, TimeSpan timeout)
    {
        var round = new PushRound(subscribers.Length);
        foreach (var subscriber in subscribers) subscriber.Tell(new CountingSubscriber.StartRound(sends, round));
        var cost = CostMeter.Start();
        var start = Stopwatch.GetTimestamp();
        await SendAllAsync(sender, group, sends).Within(timeout, "Group sending");
        await round.Done.Within(timeout, "Pushing group messages");
        return Figures(sends, start, cost);
    }

    private static RoundFigures Figures(int sends, long start, CostMeter cost)
    {
        var seconds = Timing.Seconds(start);
        var figures = new RoundFigures { ["sends/s"] = sends / seconds, ["deliveries/s"] = sends * (double)Members / seconds };
        cost.AddTo(figures, sends, "send");
        return figures;
    }

    private static Task SendAllAsync(IChannelLayer layer, string group, int sends)
    {
        var workers = new Task[InFlight];
        for (int w = 0; w < InFlight; w++) workers[w] = SendLoopAsync(layer, group, w, sends);
        return Task.WhenAll(workers);
    }

    private static async Task SendLoopAsync(IChannelLayer layer, string group, int worker, int sends)
    {
        for (long i = worker; i < sends; i += InFlight)
            await layer.GroupSendAsync(group, BenchMessages.Create(i));
    }

    private static async Task ReceiveLoopAsync(IChannelLayer layer, string channel, int count)
    {
        for (int n = 0; n < count; n++) await layer.ReceiveAsync(channel);
    }

    private static async Task<RoundFigures> RawRoundAsync(RawPeer publisher, string group, List<RawSink> sinks, int sends, TimeSpan timeout)
    {
        foreach (var sink in sinks) sink.Reset(sends);
        var cost = CostMeter.Start();
        var start = Stopwatch.GetTimestamp();
        var workers = new Task[InFlight];
        for (int w = 0; w < InFlight; w++) workers[w] = RawSendLoopAsync(publisher, group, w, sends);
        await Task.WhenAll(workers).Within(timeout, "Group sending (raw)");
        await Task.WhenAll(sinks.Select(s => s.Done)).Within(timeout, "Receiving group messages (raw)");
        return Figures(sends, start, cost);
    }

    private static async Task RawSendLoopAsync(RawPeer peer, string group, int worker, int sends)
    {
        for (long i = worker; i < sends; i += InFlight)
        {
            var body = BenchMessages.EncodeForGroup(i, group);
            await peer.Publish.BasicPublishAsync(BenchSettings.GroupsExchange, group, mandatory: false, new ReadOnlyMemory<byte>(body));
        }
    }

    /// <summary>Counts down the subscribers of one push round.</summary>
    internal sealed class PushRound(int subscribers)
    {
        private int _remaining = subscribers;
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Done => _done.Task;

        public void SubscriberDone()
        {
            if (Interlocked.Decrement(ref _remaining) == 0) _done.TrySetResult();
        }
    }

    /// <summary>A push subscriber that only counts what it is told.</summary>
    internal sealed class CountingSubscriber : UntypedActor
    {
        private int _remaining;
        private PushRound? _round;

        public sealed record StartRound(int Expected, PushRound Round);

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case ChannelLayerProtocol.Received:
                    if (--_remaining == 0) _round?.SubscriberDone();
                    break;
                case StartRound start:
                    _remaining = start.Expected;
                    _round = start.Round;
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}
