using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka.Benchmarks.Scenarios;

/// <summary>
/// Scenario 6: encode and decode of the benchmark message. With <c>--micro</c> BenchmarkDotNet
/// measures it (in-process); otherwise a Stopwatch loop with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> does, which is quick and close enough.
/// </summary>
internal static class Micro
{
    public static async Task RunAsync(BenchContext context, ScenarioResult result)
    {
        if (context.Options.Micro)
        {
            RunBenchmarkDotNet(context, result);
            return;
        }

        int iterations = context.Quick ? 20_000 : 1_000_000;
        int rounds = context.Rounds;
        result.Setup = $"Stopwatch loop: {BenchContext.Count(iterations)} operations per round on one thread, " +
                       $"{context.Warmup} warm-up + {rounds} rounds; bytes from GC.GetAllocatedBytesForCurrentThread.";
        var codec = new CodecBenchmarks();
        codec.Setup();
        await Task.Yield();
        var encode = new List<double>();
        var decode = new List<double>();
        var both = new List<double>();
        var encodeBytes = new List<double>();
        var decodeBytes = new List<double>();
        var bothBytes = new List<double>();
        for (int r = -context.Warmup; r < rounds; r++)
        {
            var (e, eb) = Measure(iterations, () => codec.Encode());
            var (d, db) = Measure(iterations, () => codec.Decode());
            var (b, bb) = Measure(iterations, () => codec.EncodeDecode());
            if (r < 0) continue;
            encode.Add(e);
            decode.Add(d);
            both.Add(b);
            encodeBytes.Add(eb);
            decodeBytes.Add(db);
            bothBytes.Add(bb);
            context.Progress($"codec round {r + 1}/{rounds}: encode {e:0} ns {eb:0} B, decode {d:0} ns {db:0} B, both {b:0} ns {bb:0} B");
        }
        Report(result, encode, decode, both, encodeBytes, decodeBytes, bothBytes, codec.BodyLength);
    }

    private static (double Nanoseconds, double Bytes) Measure(int iterations, Func<object> operation)
    {
        object? last = null;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++) last = operation();
        long elapsed = Stopwatch.GetTimestamp() - start;
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        GC.KeepAlive(last);
        return (elapsed * 1e9 / Stopwatch.Frequency / iterations, allocated / (double)iterations);
    }

    private static void Report(ScenarioResult result, List<double> encode, List<double> decode, List<double> both,
        List<double> encodeBytes, List<double> decodeBytes, List<double> bothBytes, int bodyLength)
    {
        result.Add("encode", "ns", false, encode, null).Note = $"body {bodyLength} bytes";
        result.Add("decode", "ns", false, decode, null);
        var time = result.Add("encode + decode", "ns", false, both, null);
        time.Target = "< 1,000 ns";
        time.Met = time.Ours!.Median < 1000;
        result.Add("encode allocated", "B", false, encodeBytes, null);
        result.Add("decode allocated", "B", false, decodeBytes, null);
        var bytes = result.Add("encode + decode allocated", "B", false, bothBytes, null);
        bytes.Target = "< 600 B";
        bytes.Met = bytes.Ours!.Median < 600;
    }

    private static void RunBenchmarkDotNet(BenchContext context, ScenarioResult result)
    {
        result.Setup = $"BenchmarkDotNet, in-process toolchain, {(context.Quick ? "ShortRun" : "default")} job, MemoryDiagnoser.";
        var config = ManualConfig.CreateEmpty()
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddJob((context.Quick ? Job.ShortRun : Job.Default).WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .AddLogger(new TextWriterLogger(context.Output))
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "channels-bench-bdn"))
            .WithOptions(ConfigOptions.JoinSummary);
        var summary = BenchmarkDotNet.Running.BenchmarkRunner.Run<CodecBenchmarks>(config);
        double Median(string method) =>
            summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics?.Median ?? double.NaN;
        double Bytes(string method) =>
            summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).GcStats
                .GetBytesAllocatedPerOperation(summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).BenchmarkCase) ?? double.NaN;
        var codec = new CodecBenchmarks();
        codec.Setup();
        Report(result,
            [Median(nameof(CodecBenchmarks.Encode))], [Median(nameof(CodecBenchmarks.Decode))], [Median(nameof(CodecBenchmarks.EncodeDecode))],
            [Bytes(nameof(CodecBenchmarks.Encode))], [Bytes(nameof(CodecBenchmarks.Decode))], [Bytes(nameof(CodecBenchmarks.EncodeDecode))],
            codec.BodyLength);
    }

    private sealed class TextWriterLogger(TextWriter writer) : ILogger
    {
        public string Id => nameof(TextWriterLogger);

        public int Priority => 0;

        public void Write(LogKind logKind, string text) => writer.Write(text);

        public void WriteLine() => writer.WriteLine();

        public void WriteLine(LogKind logKind, string text) => writer.WriteLine(text);

        public void Flush() => writer.Flush();
    }
}

/// <summary>
/// The codec on the benchmark message, as the layer uses it: <c>Encode</c> of the caller's
/// dictionary for a channel, <c>Decode</c> of the body as the consumer hands it over (memory).
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private Dictionary<string, object?> _message = null!;
    private string _channel = null!;
    private ReadOnlyMemory<byte> _body;

    public int BodyLength => _body.Length;

    [GlobalSetup]
    public void Setup()
    {
        _message = BenchMessages.Create(12_345);
        // A fixed name (a real one is random): the decoder's small string cache is direct-mapped, so
        // whether two recurring strings share a slot would otherwise change from run to run.
        _channel = "channels_abcdefghijkl!bench.abcdefghijkl";
        _body = WireCodec.Encode(_message, _channel, null, 16 * 1024 * 1024);
    }

    [Benchmark]
    public object Encode() => WireCodec.Encode(_message, _channel, null, 16 * 1024 * 1024);

    [Benchmark]
    public object Decode() => WireCodec.Decode(_body);

    [Benchmark]
    public object EncodeDecode() => WireCodec.Decode(WireCodec.Encode(_message, _channel, null, 16 * 1024 * 1024).AsMemory());
}
