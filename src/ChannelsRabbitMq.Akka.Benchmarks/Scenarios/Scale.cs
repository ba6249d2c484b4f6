using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace ChannelsRabbitMq.Akka.Benchmarks.Scenarios;

/// <summary>
/// Scenario 5: managed memory per live channel (pending receive, push subscription), that an
/// idle channel costs nothing, and the time to bind many groups and to replay every binding
/// after a forced reconnect.
/// </summary>
internal static class Scale
{
    public static async Task RunAsync(BenchContext context, ScenarioResult result)
    {
        int channels = context.Options.Channels ?? (context.Quick ? 2_000 : 100_000);
        int idleChannels = Math.Min(channels, context.Quick ? 2_000 : 10_000);
        int groups = context.Options.Groups ?? (context.Quick ? 500 : 10_000);
        int rounds = context.Quick ? 1 : Math.Min(context.Rounds, 3);
        result.Setup = $"memory: {BenchContext.Count(channels)} channels per round, each with a pending ReceiveAsync (no token) or a push " +
                       $"subscription (one subscriber actor for all); idle: {BenchContext.Count(idleChannels)} pending receives cancelled, " +
                       $"then the channels must stop; groups: {BenchContext.Count(groups)} groups joined by one channel, all adds issued at once, " +
                       $"then the connection is aborted (IConnection.AbortAsync on the layer's connection) and the time until the layer " +
                       $"is connected again with every binding replayed is measured, with QueueMode.Durable and QueueMode.Exclusive; " +
                       $"{rounds} round(s), 1 small warm-up.";

        await MemoryAsync(context, result, channels, rounds);
        BenchLog.Drain(result);
        await IdleAsync(context, result, idleChannels);
        BenchLog.Drain(result);
        await GroupsAsync(context, result, groups, rounds);
    }

    // ------------------------------------------------------------------ memory

    private static async Task MemoryAsync(BenchContext context, ScenarioResult result, int channels, int rounds)
    {
        // Warm-up: JIT the paths, grow the pools, so the rounds measure only the channels.
        await PendingReceiveRoundAsync(context, Math.Min(channels, context.Quick ? 200 : 1_000));
        await SubscriptionRoundAsync(context, Math.Min(channels, context.Quick ? 200 : 1_000));
        await TaskMapRoundAsync(context, Math.Min(channels, context.Quick ? 200 : 1_000));

        var receive = new List<double>();
        var create = new List<double>();
        var subscription = new List<double>();
        var map = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            var (bytes, perChannelUs) = await PendingReceiveRoundAsync(context, channels);
            receive.Add(bytes);
            create.Add(perChannelUs);
            subscription.Add(await SubscriptionRoundAsync(context, channels));
            map.Add(await TaskMapRoundAsync(context, channels));
            context.Progress($"memory round {r + 1}/{rounds}: pending receive {bytes:0} B/channel ({perChannelUs:0.0} µs to create), " +
                             $"push subscription {subscription[^1]:0} B/channel, plain task map {map[^1]:0} B/channel");
        }

        var m = result.Add("memory per channel with a pending ReceiveAsync", "B", false, receive, map);
        m.Target = "≤ 3,072 B";
        m.Met = m.Ours!.Median <= 3072;
        m.Note = "raw = a ConcurrentDictionary of TaskCompletionSource per channel (no actors), for scale";
        var s = result.Add("memory per channel with a push subscription", "B", false, subscription, null);
        s.Target = "≤ 3,072 B";
        s.Met = s.Ours!.Median <= 3072;
        result.Add("time to create a channel with a pending ReceiveAsync", "µs", false, create, null)
            .Note = "until the router has created every channel actor";
    }

    /// <summary>Bytes per channel, and µs per channel until the router has created them all.</summary>
    private static async Task<(double Bytes, double MicrosecondsPerChannel)> PendingReceiveRoundAsync(BenchContext context, int channels)
    {
        var layers = await LayerSet.StartAsync(context.Host, 1);
        var layer = layers[0];
        var names = new string[channels];
        for (int i = 0; i < channels; i++) names[i] = Names.NewChannelName(layer.QueueName, "scale");
        var pending = new Task[channels];
        try
        {
            long before = await Timing.SettledHeapAsync(Settle(context, 3));
            using var profiler = context.Options.AllocationProfile && channels >= 10_000 ? new AllocationProfiler() : null;
            profiler?.Start();
            var start = Stopwatch.GetTimestamp();
            for (int i = 0; i < channels; i++) pending[i] = layer.ReceiveAsync(names[i]);
            var live = await LayerSet.LiveChannelsAsync(layer);
            var created = Timing.Seconds(start);
            if (live != channels) throw new InvalidOperationException($"The router has {live} live channels, not {channels}.");
            long after = await Timing.SettledHeapAsync(Settle(context, 10));
            profiler?.Stop();
            if (profiler is not null)
            {
                context.Progress($"allocations while creating {channels} channels with a pending receive:");
                profiler.Report(context.Output, 40);
            }
            // For a heap snapshot (dotnet-gcdump collect -p PID) while the channels are alive.
            if (channels >= 10_000 && int.TryParse(Environment.GetEnvironmentVariable("CHANNELS_BENCH_HOLD_SECONDS"), out var hold))
            {
                context.Progress($"holding {channels} live channels for {hold} s (process {Environment.ProcessId})");
                await Task.Delay(TimeSpan.FromSeconds(hold));
            }
            if (pending.Any(t => t.IsCompleted)) throw new InvalidOperationException("A pending receive completed.");
            return ((after - before) / (double)channels, created * 1e6 / channels);
        }
        finally
        {
            await layers.DisposeAsync();
            await Task.WhenAll(pending.Where(t => t is not null)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task<double> SubscriptionRoundAsync(BenchContext context, int channels)
    {
        await using var layers = await LayerSet.StartAsync(context.Host, 1);
        var layer = layers[0];
        var subscriber = layers.System.ActorOf(Props.Create(() => new NullSubscriber()), "subscriber");
        var names = new string[channels];
        for (int i = 0; i < channels; i++) names[i] = Names.NewChannelName(layer.QueueName, "scale");
        long before = await Timing.SettledHeapAsync(Settle(context, 3));
        await SubscribeAllAsync(layer, names, subscriber).Within(context.RoundTimeout, "Subscribing");
        long after = await Timing.SettledHeapAsync(Settle(context, 10));
        GC.KeepAlive(names);
        return (after - before) / (double)channels;
    }

    private static Task SubscribeAllAsync(RabbitMqChannelLayer layer, string[] names, IActorRef subscriber)
    {
        var tasks = new Task[names.Length];
        for (int i = 0; i < names.Length; i++) tasks[i] = layer.SubscribeAsync(names[i], subscriber);
        return Task.WhenAll(tasks);
    }

    /// <summary>The reference point: a pending receive as a TaskCompletionSource in a concurrent map.</summary>
    private static async Task<double> TaskMapRoundAsync(BenchContext context, int channels)
    {
        var names = new string[channels];
        for (int i = 0; i < channels; i++) names[i] = Names.NewChannelName("channels_abcdefghijkl", "scale");
        long before = await Timing.SettledHeapAsync(Settle(context, 3));
        var map = new ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyDictionary<string, object?>>>(StringComparer.Ordinal);
        var pending = new Task[channels];
        for (int i = 0; i < channels; i++)
        {
            var waiter = new TaskCompletionSource<IReadOnlyDictionary<string, object?>>(TaskCreationOptions.RunContinuationsAsynchronously);
            map[names[i]] = waiter;
            pending[i] = waiter.Task;
        }
        long after = await Timing.SettledHeapAsync(Settle(context, 3));
        GC.KeepAlive(map);
        GC.KeepAlive(names);
        return (after - before) / (double)channels;
    }

    /// <summary>How long to wait for the heap to settle: short in quick mode, where tests may be allocating beside us.</summary>
    private static TimeSpan Settle(BenchContext context, int seconds) => TimeSpan.FromSeconds(context.Quick ? 1 : seconds);

    // ------------------------------------------------------------------ idle

    private static async Task IdleAsync(BenchContext context, ScenarioResult result, int channels)
    {
        await using var layers = await LayerSet.StartAsync(context.Host, 1);
        var layer = layers[0];
        var names = new string[channels];
        for (int i = 0; i < channels; i++) names[i] = Names.NewChannelName(layer.QueueName, "idle");
        var pending = new Task[channels];
        using var cancel = new CancellationTokenSource();
        long before = await Timing.SettledHeapAsync(Settle(context, 3));
        for (int i = 0; i < channels; i++) pending[i] = layer.ReceiveAsync(names[i], cancel.Token);
        int live = await LayerSet.LiveChannelsAsync(layer);
        var start = Stopwatch.GetTimestamp();
        await cancel.CancelAsync();
        await Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default);
        Array.Clear(pending);
        int remaining = live;
        while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(30) && remaining > 0)
        {
            await Task.Delay(100);
            remaining = await LayerSet.LiveChannelsAsync(layer);
        }
        var stoppedAfter = Timing.Seconds(start);
        long after = await Timing.SettledHeapAsync(Settle(context, 5));
        if (int.TryParse(Environment.GetEnvironmentVariable("CHANNELS_BENCH_HOLD_SECONDS"), out var hold))
        {
            context.Progress($"holding the layer with {remaining} live channels for {hold} s (process {Environment.ProcessId})");
            await Task.Delay(TimeSpan.FromSeconds(hold));
        }
        GC.KeepAlive(names);
        context.Progress($"idle: {live} live channels → {remaining} {stoppedAfter:0.0} s after the receives were cancelled; " +
                         $"{(after - before) / (double)channels:0} B/channel left");

        var residual = result.Add("memory left per idle channel (receive cancelled)", "B", false, [(after - before) / (double)channels], null);
        residual.Target = "≈ 0 (the channel actor stops)";
        residual.Met = remaining == 0 && (after - before) / (double)channels < 64;
        residual.Note = $"{live} live → {remaining} live channels after {stoppedAfter:0.0} s";
        result.Add("time until idle channels are stopped", "s", false, [stoppedAfter], null).Note = "ChannelIdleAfter is 2 s";
    }

    // ------------------------------------------------------------------ groups

    private static async Task GroupsAsync(BenchContext context, ScenarioResult result, int groups, int rounds)
    {
        var prefix = "bench-g-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var names = Enumerable.Range(0, groups).Select(g => prefix + g).ToArray();

        // Warm-up with a few groups on both sides.
        await OursGroupsRoundAsync(context, names[..Math.Min(groups, 100)], exclusiveQueue: false);
        await RawGroupsRoundAsync(context, names[..Math.Min(groups, 100)], exclusiveQueue: false);

        foreach (var exclusive in new[] { false, true })
        {
            string mode = exclusive ? "QueueMode.Exclusive" : "QueueMode.Durable (outlives a blip)";
            var oursBind = new List<double>();
            var oursReplay = new List<double>();
            var oursConflicts = new List<double>();
            var rawBind = new List<double>();
            var rawReplay = new List<double>();
            var rawParallel = new List<double>();
            var rawNoWait = new List<double>();
            for (int r = 0; r < rounds; r++)
            {
                var ours = await OursGroupsRoundAsync(context, names, exclusive);
                var raw = await RawGroupsRoundAsync(context, names, exclusive);
                oursBind.Add(ours.Bind);
                oursReplay.Add(ours.Replay);
                oursConflicts.Add(ours.ConflictRetries);
                rawBind.Add(raw.Bind);
                rawReplay.Add(raw.Replay);
                if (raw.Parallel is { } parallel) rawParallel.Add(parallel);
                if (raw.NoWait is { } noWait) rawNoWait.Add(noWait);
                context.Progress($"groups ({mode}) round {r + 1}/{rounds}: bind ours {ours.Bind:0.000} s raw {raw.Bind:0.000} s; " +
                                 $"replay ours {ours.Replay:0.000} s ({ours.ConflictRetries} refused attempts) raw {raw.Replay:0.000} s " +
                                 $"({raw.ReplayRetries} retries)" +
                                 (raw.Parallel is null ? "" : $"; raw bind over 8 channels {raw.Parallel:0.000} s, raw no-wait bind {raw.NoWait:0.000} s"));
            }

            if (!exclusive)
            {
                result.Add($"bind {BenchContext.Count(groups)} groups", "s", false, oursBind, rawBind)
                    .Note = "all GroupAddAsync issued at once; raw = one queue.bind RPC after another on one channel";
            }
            var replay = result.Add($"replay {BenchContext.Count(groups)} bindings after a forced reconnect, {mode}", "s", false, oursReplay, rawReplay);
            replay.Target = "< 3 s";
            replay.Met = replay.Ours!.Median < 3;
            replay.Note = "from the abort until connected again with every binding; raw = new connection, declare, consume, bind one by one" +
                          (exclusive ? " (the old exclusive queue and its bindings are gone)" : " (the queue and its bindings survived; each bind is repeated)");
            result.Add($"replay attempts refused (queue still held), {mode}", "count", false, oursConflicts, null)
                .Note = "each one waits ReconnectDelay (1 s) before the next attempt; raw retries after 10 ms";
            if (rawParallel.Count > 0)
                result.Add($"bind {BenchContext.Count(groups)} groups, raw over 8 channels at once", "s", false, null, rawParallel)
                    .Note = "what pipelining the binds over several AMQP channels could give";
            if (rawNoWait.Count > 0)
                result.Add($"bind {BenchContext.Count(groups)} groups, raw no-wait + one fencing RPC", "s", false, null, rawNoWait)
                    .Note = "queue.bind nowait=true for all, then one passive declare: errors would still close the channel";
        }
    }

    private static async Task<(double Bind, double Replay, int ConflictRetries)> OursGroupsRoundAsync(BenchContext context, string[] groups,
        bool exclusiveQueue)
    {
        await using var layers = await LayerSet.StartAsync(context.Host, 1, o => o.QueueMode = exclusiveQueue ? QueueMode.Exclusive : QueueMode.Durable);
        var layer = layers[0];
        var channel = await layer.NewChannelAsync("groups");

        var start = Stopwatch.GetTimestamp();
        var adds = new Task[groups.Length];
        for (int g = 0; g < groups.Length; g++) adds[g] = layer.GroupAddAsync(groups[g], channel);
        await Task.WhenAll(adds).Within(context.RoundTimeout, "Binding the groups");
        var bind = Timing.Seconds(start);

        var before = layer.GetStatistics().Reconnects;
        var connection = await layer.GetConnectionAsync();
        int conflictsBefore = BenchLog.QueueConflicts;
        start = Stopwatch.GetTimestamp();
        await connection.AbortAsync();
        if (!await Timing.PollAsync(() => layer.GetStatistics().Reconnects > before, context.RoundTimeout))
            throw new TimeoutException($"The layer did not reconnect within {context.RoundTimeout.TotalSeconds} s.");
        await layer.WaitForConnectionAsync().Within(context.RoundTimeout, "Reconnecting");
        var replay = Timing.Seconds(start);
        int conflicts = BenchLog.QueueConflicts - conflictsBefore;

        // Check that the first and the last binding are really there.
        await layer.GroupSendAsync(groups[0], BenchMessages.Create(0));
        await layer.GroupSendAsync(groups[^1], BenchMessages.Create(1));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await layer.ReceiveAsync(channel, timeout.Token);
        await layer.ReceiveAsync(channel, timeout.Token);
        return (bind, replay, conflicts);
    }

    private static async Task<(double Bind, double Replay, int ReplayRetries, double? Parallel, double? NoWait)> RawGroupsRoundAsync(
        BenchContext context, string[] groups, bool exclusiveQueue)
    {
        var queue = Names.NewQueueName();
        var peer = await RawPeer.OpenAsync(context.Host, "bench raw groups " + queue);
        try
        {
            await peer.DeclareExchangeAsync();
            await peer.DeclareQueueAsync(queue, exclusiveQueue);
            if (!exclusiveQueue) await peer.ConsumeAsync(queue, new RawSink());
            var start = Stopwatch.GetTimestamp();
            foreach (var group in groups) await peer.Topology.QueueBindAsync(queue, BenchSettings.GroupsExchange, group);
            var bind = Timing.Seconds(start);

            // Replay: what the layer does on a reconnect, written directly.
            start = Stopwatch.GetTimestamp();
            await peer.Connection.AbortAsync();
            await peer.DisposeAsync();
            int retries = 0;
            while (true)
            {
                peer = await RawPeer.OpenAsync(context.Host, "bench raw groups " + queue);
                try
                {
                    await peer.DeclareExchangeAsync();
                    await peer.DeclareQueueAsync(queue, exclusiveQueue);
                    if (!exclusiveQueue) await peer.ConsumeAsync(queue, new RawSink());
                    break;
                }
                catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode is Constants.ResourceLocked or Constants.AccessRefused
                                                               && retries < 1000)
                {
                    // The broker still has the old connection's exclusive queue or consumer.
                    retries++;
                    await peer.DisposeAsync();
                    await Task.Delay(10);
                }
            }
            foreach (var group in groups) await peer.Topology.QueueBindAsync(queue, BenchSettings.GroupsExchange, group);
            if (exclusiveQueue) await peer.ConsumeAsync(queue, new RawSink(), exclusiveConsume: false);
            var replay = Timing.Seconds(start);
            if (exclusiveQueue) return (bind, replay, retries, null, null);

            // What the bind could cost: over 8 channels at once, and without waiting for each reply.
            // (Exclusive queues: nothing consumes them, and an x-expires could delete one mid-bind
            // on a slow round; they go with the connection.)
            var parallelQueue = Names.NewQueueName();
            await peer.DeclareQueueAsync(parallelQueue, exclusive: true);
            var channels = new IChannel[8];
            for (int c = 0; c < channels.Length; c++) channels[c] = await peer.Connection.CreateChannelAsync();
            start = Stopwatch.GetTimestamp();
            await Task.WhenAll(channels.Select(async (channel, c) =>
            {
                for (int g = c; g < groups.Length; g += channels.Length)
                    await channel.QueueBindAsync(parallelQueue, BenchSettings.GroupsExchange, groups[g]);
            }));
            var parallel = Timing.Seconds(start);

            var noWaitQueue = Names.NewQueueName();
            await peer.DeclareQueueAsync(noWaitQueue, exclusive: true);
            start = Stopwatch.GetTimestamp();
            foreach (var group in groups)
                await peer.Topology.QueueBindAsync(noWaitQueue, BenchSettings.GroupsExchange, group, noWait: true);
            await peer.Topology.QueueDeclarePassiveAsync(noWaitQueue);
            var noWait = Timing.Seconds(start);
            await peer.Topology.QueueDeleteAsync(parallelQueue);
            await peer.Topology.QueueDeleteAsync(noWaitQueue);
            return (bind, replay, retries, parallel, noWait);
        }
        finally
        {
            await peer.DisposeAsync();
        }
    }

    private sealed class NullSubscriber : UntypedActor
    {
        protected override void OnReceive(object message)
        {
        }
    }
}
