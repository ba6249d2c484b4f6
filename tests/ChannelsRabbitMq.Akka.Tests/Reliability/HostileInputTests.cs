using System.Buffers.Binary;
using System.Text;
using Akka.Event;
using ChannelsRabbitMq.Akka.Wire;
using RabbitMQ.Client;
using Xunit;
using Xunit.Abstractions;
using static ChannelsRabbitMq.Akka.Tests.Integration.HandWrittenMsgPack;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// Hostile bodies published by a raw client straight into a layer's queue, on the shared node
/// (each test uses its own layer and queue). Complements
/// <c>RabbitMqLayerTests.A_malformed_body_is_logged_acked_and_dropped_and_consuming_goes_on</c>
/// (bad code, non-map, no recipient, non-string recipient, one truncation) and the codec's
/// fuzz specs: here every other kind goes through the broker, one at a time, each followed by
/// a good message that can only arrive (LocalCapacity 1) if the bad one was acked.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static RabbitMqChannelLayer Layer(ReliabilitySystem akka, Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var options = new RabbitMqChannelLayerOptions
        {
            Host = TestBroker.Url,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1,
        };
        configure?.Invoke(options);
        return new RabbitMqChannelLayer(akka.System, options);
    }

    private static async Task<IConnection> RawConnectionAsync() =>
        await new ConnectionFactory { Uri = new Uri(TestBroker.Url) }.CreateConnectionAsync().WaitAsync(Timeout);

    private static byte[] Header(byte code, uint length)
    {
        var bytes = new byte[5];
        bytes[0] = code;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(1), length);
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Every kind of hostile body, by name; <paramref name="channel"/> is a real channel of the layer.</summary>
    private static IEnumerable<(string Name, byte[] Body)> HostileBodies(string channel)
    {
        var recipient = Concat(Str("__asgi_channel__"), Str(channel));
        var valid = WireCodec.Encode(new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hello there", ["n"] = 42L }, channel, null, 1 << 20);

        yield return ("empty body", []);
        var random = new Random(20240607);
        for (var i = 0; i < 12; i++)
        {
            var bytes = new byte[random.Next(1, 300)];
            random.NextBytes(bytes);
            yield return ($"random bytes #{i} ({bytes.Length} B)", bytes);
        }
        foreach (var cut in new[] { 1, 2, valid.Length / 3, valid.Length / 2, valid.Length - 1 })
            yield return ($"a real message truncated to {cut} of {valid.Length} bytes", valid[..cut]);
        yield return ("trailing bytes after a valid map", Concat(valid, [0xc0]));
        yield return ("both recipient keys", Concat([0x83], recipient, Str("__asgi_group__"), Str("g"), Str("type"), Str("x")));
        yield return ("two maps' worth of keys, no recipient", Map(Str("type"), Str("x"), Str("text"), Str("y")));
        yield return ("nesting 65 lists deep (limit 64)", Concat([0x82], recipient, Str("deep"), Enumerable.Repeat((byte)0x91, 65).ToArray(), [0xc0]));
        yield return ("nesting 100000 maps deep", Concat([0x82], recipient, Str("deep"),
            Enumerable.Range(0, 100_000).SelectMany(_ => Concat([0x81], Str("k"))).ToArray(), [0xc0]));
        yield return ("map32 declaring 4294967295 entries", Concat(Header(0xdf, uint.MaxValue), recipient));
        yield return ("array32 declaring 2147483647 items", Concat([0x82], recipient, Str("a"), Header(0xdd, int.MaxValue)));
        yield return ("str32 declaring 4294967295 bytes", Concat([0x82], recipient, Str("s"), Header(0xdb, uint.MaxValue), [0x41]));
        yield return ("bin32 declaring 2147483648 bytes", Concat([0x82], recipient, Str("b"), Header(0xc6, 0x8000_0000), [0x00]));
        yield return ("a str32 key declaring 2147483647 bytes", Concat([0x82], recipient, Header(0xdb, int.MaxValue)));
        yield return ("map16 declaring 65535 entries, holding 1", Concat([0xde, 0xff, 0xff], recipient));
        yield return ("an integer key", Concat([0x82], recipient, FixInt(1), Str("one")));
        yield return ("a nil key", Concat([0x82], recipient, Nil, Str("nil")));
        yield return ("a bin key (Python bytes)", Concat([0x82], recipient, Bin("type"u8.ToArray()), Str("x")));
        yield return ("a float key", Concat([0x82], recipient, Float64(1.5), Str("x")));
        yield return ("a list key", Concat([0x82], recipient, ChannelsRabbitMq.Akka.Tests.Integration.HandWrittenMsgPack.Array(FixInt(1)), Str("x")));
        yield return ("an integer key in a nested map", Concat([0x82], recipient, Str("m"), Map(FixInt(3), Str("x"))));
        yield return ("invalid UTF-8 in a value", Concat([0x82], recipient, Str("t"), [0xa2, 0xc3, 0x28]));
        yield return ("invalid UTF-8 in the recipient", Concat([0x81], Str("__asgi_channel__"), [0xa3, 0xff, 0xfe, 0x21]));
        yield return ("a msgpack extension value", Concat([0x82], recipient, Str("ext"), [0xd4, 0x01, 0x00]));
        yield return ("a timestamp extension (-1)", Concat([0x82], recipient, Str("ts"), [0xd6, 0xff, 0, 0, 0, 1]));
    }

    [Fact]
    public async Task Every_kind_of_hostile_body_is_logged_acked_and_dropped_one_by_one_and_the_layer_keeps_delivering()
    {
        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel);
        var layer = Layer(akka);
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.WaitForConnectionAsync().WaitAsync(Timeout);
            await using var raw = await RawConnectionAsync();
            await using var publisher = await raw.CreateChannelAsync();
            var bodies = HostileBodies(channel).ToArray();
            var failures = new List<string>();
            for (var i = 0; i < bodies.Length; i++)
            {
                var (name, body) = bodies[i];
                await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: body);
                var good = WireCodec.Encode(Tagged.Message($"good-{i}"), channel, null, 1 << 20);
                await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: good);
                IReadOnlyDictionary<string, object?> received;
                try
                {
                    received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
                }
                catch (TimeoutException)
                {
                    failures.Add($"{name}: the good message after it never arrived (the bad one was not acked?)");
                    break;
                }
                var id = received.TryGetValue("id", out var value) ? value as string : null;
                if (id != $"good-{i}") failures.Add($"{name}: delivered as a message ({string.Join(", ", received.Keys)}); the good one is still queued");
                var malformed = layer.GetStatistics().Malformed;
                if (malformed != i + 1) failures.Add($"{name}: Malformed counter is {malformed}, expected {i + 1}");
            }
            // Log events reach the recorder through the event stream, a moment after the counter.
            await Poll.TryUntilAsync(() => akka.Warnings("malformed").Count >= bodies.Length, Timeout);
            var warnings = akka.Warnings("malformed");
            if (warnings.Count != bodies.Length) failures.Add($"{warnings.Count} \"malformed\" warnings for {bodies.Length} bodies");
            foreach (var w in warnings.Where(w => w.Text.Length > 1000))
                failures.Add($"a warning of {w.Text.Length} characters (hostile input must not flood the log): {w.Text[..200]}…");
            Figures.Report(output, "hostile bodies", $"{bodies.Length} kinds, each logged, acked and dropped; reasons logged:\n  " +
                string.Join("\n  ", bodies.Zip(warnings, (b, w) => $"{b.Name}: {w.Text}")));
            Assert.True(failures.Count == 0, string.Join("\n", failures));
            Assert.True(layer.GetStatistics().Connected, "the layer lost its connection");
            Assert.Equal(0, layer.GetStatistics().Reconnects);
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }

    /// <summary>
    /// A body naming a channel that cannot be this layer's (another queue's, or an invalid name)
    /// can never be received: holding it until the local expiry (60 s by default) would take a
    /// LocalCapacity slot from real traffic, so it is dropped like a malformed body.
    /// </summary>
    [Theory]
    [InlineData("another queue's channel", "channels_someoneElse!specific.abc")]
    [InlineData("a normal channel (no '!')", "some.worker.channel")]
    [InlineData("an invalid channel name", "not a channel name")]
    [InlineData("an empty channel name", "")]
    public async Task A_body_addressed_to_a_channel_this_layer_cannot_own_does_not_hold_a_LocalCapacity_slot(string what, string recipient)
    {
        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel);
        var layer = Layer(akka);
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.WaitForConnectionAsync().WaitAsync(Timeout);
            await using var raw = await RawConnectionAsync();
            await using var publisher = await raw.CreateChannelAsync();
            await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName,
                body: Map(Str("type"), Str("misaddressed"), Str("__asgi_channel__"), Str(recipient)));
            await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName,
                body: WireCodec.Encode(Tagged.Message("good"), channel, null, 1 << 20));

            var received = await Task.WhenAny(layer.ReceiveAsync(channel), Task.Delay(Timeout));
            Assert.True(received is Task<IReadOnlyDictionary<string, object?>>,
                $"{what}: with LocalCapacity 1 the good message did not arrive within {Timeout.TotalSeconds} s: the misaddressed body holds the only slot until its local expiry ({layer.GetStatistics().LocalBacklog} unacked, channels {string.Join(", ", layer.GetStatistics().BiggestBuffers.Select(b => $"'{b.Key}' ({b.Value})"))})");
            Assert.Equal("good", Tagged.IdOf(await (Task<IReadOnlyDictionary<string, object?>>)received));
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }

    /// <summary>
    /// <c>MaxMessageSize</c> is the largest message the layer "sends or accepts": a bigger body
    /// arriving from the queue is logged, acked and dropped, not handed to a receiver.
    /// </summary>
    [Fact]
    public async Task An_inbound_body_larger_than_MaxMessageSize_is_logged_acked_and_dropped()
    {
        await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel);
        var layer = Layer(akka, o => o.MaxMessageSize = 1024);
        try
        {
            var channel = await layer.NewChannelAsync();
            await layer.WaitForConnectionAsync().WaitAsync(Timeout);
            await using var raw = await RawConnectionAsync();
            await using var publisher = await raw.CreateChannelAsync();
            var big = Tagged.Message("too-big");
            big["data"] = new string('x', 4096);
            await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName, body: WireCodec.Encode(big, channel, null, 1 << 20));
            await publisher.BasicPublishAsync(exchange: "", routingKey: layer.QueueName,
                body: WireCodec.Encode(Tagged.Message("good"), channel, null, 1 << 20));

            var first = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
            Assert.True(Tagged.IdOf(first) == "good",
                $"a {WireCodec.Encode(big, channel, null, 1 << 20).Length}-byte body was delivered although MaxMessageSize is 1024");
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }
}
