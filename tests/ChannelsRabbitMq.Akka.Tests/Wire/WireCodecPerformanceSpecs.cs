using System.Diagnostics;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class WireCodecPerformanceSpecs(ITestOutputHelper output)
{
    private static readonly string Text = new('x', 60);

    private static Dictionary<string, object?> BenchMessage(int i) =>
        new() { ["type"] = "bench.message", ["i"] = i, ["text"] = Text };

    [Fact]
    public void Encoding_and_decoding_a_small_message_allocates_less_than_600_bytes()
    {
        var message = BenchMessage(123_456);
        for (int i = 0; i < 1000; i++) WireCodec.Decode(WireCodec.Encode(message, null, "bench-group", Unlimited)); // warm up

        const int iterations = 20_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) WireCodec.Decode(WireCodec.Encode(message, null, "bench-group", Unlimited));
        watch.Stop();
        long perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / iterations;

        output.WriteLine($"{perMessage} bytes and {watch.Elapsed.TotalNanoseconds / iterations:F0} ns per encode+decode "
            + $"({EncodeForChannel(message).Length}-byte body)");
        Assert.True(perMessage < 600, $"{perMessage} bytes allocated per encode+decode");
    }
}
