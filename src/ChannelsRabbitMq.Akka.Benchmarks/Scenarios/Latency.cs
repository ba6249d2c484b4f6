using System.Diagnostics;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;

namespace ChannelsRabbitMq.Akka.Benchmarks.Scenarios;

/// <summary>
/// Scenario 4: 1,000 messages/s paced on one layer, the time from the send call to the receiver
/// holding the decoded message; p50/p99/p99.9 beside the raw client's.
/// </summary>
/// <remarks>
/// A dedicated thread paces the sends: it sleeps 1 ms at a time and sends every message that is
/// due (so it never spins a core), stamping each one just before the send call. The layer's
/// latency ends when the receive loop resumes with the message (the caller's continuation, on the
/// thread pool); the raw client's when its consumer callback has decoded it.
/// </remarks>
internal static class Latency
{
    public const int Rate = 1_000;

    public static async Task RunAsync(BenchContext context, ScenarioResult result)
    {
        int count = context.Quick ? 500 : 10_000;
        result.Setup = $"{BenchContext.Count(count)} messages per round at {Rate}/s on one layer (one connection), one receive loop; " +
                       $"{context.Warmup} warm-up + {context.Rounds} rounds.";
        await using var layers = await LayerSet.StartAsync(context.Host, 1);
        var layer = layers[0];
        var channel = await layer.NewChannelAsync("bench");

        var rawQueue = Names.NewQueueName();
        var rawChannel = Names.NewChannelName(rawQueue, "bench");
        await using var raw = await RawPeer.OpenAsync(context.Host, "bench raw latency " + rawQueue);
        await raw.DeclareQueueAsync(rawQueue);
        var sink = new RawSink();
        await raw.ConsumeAsync(rawQueue, sink);

        var (ours, baseline) = await context.InterleaveAsync("latency",
            () => OursRoundAsync(layer, channel, count, context.RoundTimeout),
            () => RawRoundAsync(raw, rawQueue, rawChannel, sink, count, context.RoundTimeout));

        result.Add("p50 send→receive", "ms", false, ours["p50"], baseline["p50"]);
        var p99 = result.Add("p99 send→receive", "ms", false, ours["p99"], baseline["p99"]);
        p99.Target = "≤ raw + 0.3 ms and < 1.5 ms";
        if (p99.Ours is { } o && p99.Baseline is { } b)
        {
            var delta = o.Median - b.Median;
            p99.Met = delta <= 0.3 && o.Median < 1.5;
            p99.Note = $"ours - raw = {delta:+0.000;-0.000} ms";
        }
        result.Add("p99.9 send→receive", "ms", false, ours["p99.9"], baseline["p99.9"]);
        result.Add("max send→receive", "ms", false, ours["max"], baseline["max"]);
    }

    private static async Task<RoundFigures> OursRoundAsync(IChannelLayer layer, string channel, int count, TimeSpan timeout)
    {
        var sentAt = new long[count];
        var latencies = new double[count];
        var receiving = Task.Run(async () =>
        {
            for (int n = 0; n < count; n++)
            {
                var message = await layer.ReceiveAsync(channel);
                var now = Stopwatch.GetTimestamp();
                latencies[n] = Timing.Milliseconds(Volatile.Read(ref sentAt[BenchMessages.IndexOf(message)]), now);
            }
        });
        var sends = await PaceAsync(count, i =>
        {
            Volatile.Write(ref sentAt[i], Stopwatch.GetTimestamp());
            return layer.SendAsync(channel, BenchMessages.Create(i));
        });
        await Task.WhenAll(sends).Within(timeout, "Sending");
        await receiving.Within(timeout, "Receiving");
        return Figures(latencies);
    }

    private static async Task<RoundFigures> RawRoundAsync(RawPeer peer, string queue, string channel, RawSink sink, int count, TimeSpan timeout)
    {
        var sentAt = new long[count];
        var latencies = new double[count];
        int received = 0;
        sink.OnMessage = decoded =>
        {
            var now = Stopwatch.GetTimestamp();
            latencies[received++] = Timing.Milliseconds(Volatile.Read(ref sentAt[BenchMessages.IndexOf(decoded.Message)]), now);
        };
        sink.Reset(count);
        try
        {
            var sends = await PaceAsync(count, i =>
            {
                Volatile.Write(ref sentAt[i], Stopwatch.GetTimestamp());
                var body = BenchMessages.EncodeForChannel(i, channel);
                return peer.Publish.BasicPublishAsync(string.Empty, queue, mandatory: false, new ReadOnlyMemory<byte>(body)).AsTask();
            });
            await Task.WhenAll(sends).Within(timeout, "Sending (raw)");
            await sink.Done.Within(timeout, "Receiving (raw)");
        }
        finally
        {
            sink.OnMessage = null;
        }
        return Figures(latencies);
    }

    private static RoundFigures Figures(double[] latencies)
    {
        Array.Sort(latencies);
        return new RoundFigures
        {
            ["p50"] = Timing.Percentile(latencies, 50),
            ["p99"] = Timing.Percentile(latencies, 99),
            ["p99.9"] = Timing.Percentile(latencies, 99.9),
            ["max"] = latencies[^1],
        };
    }

    /// <summary>Calls <paramref name="send"/> for 0 … count-1 at <see cref="Rate"/> per second from a dedicated thread.</summary>
    private static Task<Task[]> PaceAsync(int count, Func<long, Task> send)
    {
        var done = new TaskCompletionSource<Task[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var tasks = new Task[count];
                long interval = Stopwatch.Frequency / Rate;
                long start = Stopwatch.GetTimestamp();
                int next = 0;
                while (next < count)
                {
                    long now = Stopwatch.GetTimestamp();
                    while (next < count && start + next * interval <= now)
                    {
                        tasks[next] = send(next);
                        next++;
                    }
                    if (next < count) Thread.Sleep(1);
                }
                done.TrySetResult(tasks);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "bench pacer",
        };
        thread.Start();
        return done.Task;
    }
}
