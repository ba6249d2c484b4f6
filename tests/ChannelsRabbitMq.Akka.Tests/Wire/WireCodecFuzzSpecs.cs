using System.Collections;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class WireCodecFuzzSpecs
{
    private const int Seed = 20240601;

    // Bytes that make a parser's life interesting: headers with big lengths, ext, the unused code.
    private static readonly byte[] InterestingBytes =
        [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xCA, 0xCB,
         0xCF, 0xD3, 0xD4, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xE0, 0xFF, 0xED, 0xF4, 0xF8];

    [Fact]
    public async Task Decoding_random_and_mutated_bodies_either_succeeds_or_throws_MalformedMessageException()
    {
        var run = Task.Run(() =>
        {
            var random = new Random(Seed);
            var seeds = new List<byte[]>();
            for (int i = 0; i < 50; i++) seeds.Add(EncodeForChannel(RandomMessage(random), "q!c"));
            seeds.Add(Hex("81 AE5F5F617367695F67726F75705F5F A167"));

            int decoded = 0;
            for (int i = 0; i < 20_000; i++)
            {
                byte[] body = (i % 4) switch
                {
                    0 => RandomBytes(random),
                    1 => Concat(Hex("82 AE5F5F617367695F67726F75705F5F A167"), RandomBytes(random)),
                    _ => Mutate(random, seeds[random.Next(seeds.Count)]),
                };
                try
                {
                    var message = WireCodec.Decode(body);
                    Assert.True(message.Channel is not null ^ message.Group is not null);
                    decoded++;
                }
                catch (MalformedMessageException)
                {
                }
                catch (Exception e)
                {
                    Assert.Fail($"Input {ToHex(body)} threw {e.GetType()}: {e}");
                }
            }
            return decoded;
        });

        int decodedCount = await run.WaitAsync(TimeSpan.FromSeconds(120)); // a hang fails with TimeoutException
        Assert.True(decodedCount > 100, $"only {decodedCount} inputs decoded: the mutations are too destructive to test much");
    }

    [Fact]
    public void Random_messages_round_trip_to_their_normalised_form()
    {
        var random = new Random(Seed + 1);
        for (int i = 0; i < 2000; i++)
        {
            var message = RandomMessage(random);
            var decoded = WireCodec.Decode(WireCodec.Encode(message, null, "g", Unlimited));
            AssertNormalisedEqual(message, decoded.Message, "message");
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 80)];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = random.Next(3) == 0 ? InterestingBytes[random.Next(InterestingBytes.Length)] : (byte)random.Next(256);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] original)
    {
        var bytes = new List<byte>(original);
        int mutations = random.Next(1, 4);
        for (int m = 0; m < mutations; m++)
        {
            int at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0: bytes[at] = (byte)random.Next(256); break;
                case 1 when bytes.Count > 0: bytes[at] = InterestingBytes[random.Next(InterestingBytes.Length)]; break;
                case 2 when bytes.Count > 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 3: bytes.Insert(at, InterestingBytes[random.Next(InterestingBytes.Length)]); break;
                case 4 when bytes.Count > 0: bytes.RemoveAt(at); break;
                case 5 when bytes.Count > 0: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }
        return bytes.ToArray();
    }

    private static Dictionary<string, object?> RandomMessage(Random random)
    {
        var message = new Dictionary<string, object?> { ["type"] = "fuzz.message" };
        int count = random.Next(0, 6);
        for (int i = 0; i < count; i++) message[RandomString(random)] = RandomValue(random, 2);
        return message;
    }

    private static object? RandomValue(Random random, int depth)
    {
        int kind = random.Next(depth < 6 ? 16 : 14);
        return kind switch
        {
            0 => null,
            1 => random.Next(2) == 0,
            2 => random.Next(-200, 1200),
            3 => random.NextInt64(long.MinValue, long.MaxValue),
            4 => (ulong)random.NextInt64() * 2 + (ulong)random.Next(2),
            5 => (short)random.Next(short.MinValue, short.MaxValue),
            6 => (byte)random.Next(256),
            7 => random.NextDouble() * 1e6 - 5e5,
            8 => (float)random.NextDouble(),
            9 or 10 => RandomString(random),
            11 => RandomBytesValue(random),
            12 => (uint)random.NextInt64(0, uint.MaxValue),
            13 => (sbyte)random.Next(-128, 128),
            14 => Enumerable.Range(0, random.Next(0, 5)).Select(_ => RandomValue(random, depth + 1)).ToList(),
            _ => Enumerable.Range(0, random.Next(0, 5)).ToDictionary(i => RandomString(random) + i, _ => RandomValue(random, depth + 1)),
        };
    }

    private static byte[] RandomBytesValue(Random random)
    {
        var bytes = new byte[random.Next(0, 40)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomString(Random random)
    {
        string[] pieces = ["a", "type", "é", "中", "😀", " ", "__asgi", "\0", "long-text-", "Z"];
        int count = random.Next(0, 8);
        var text = "";
        for (int i = 0; i < count; i++) text += pieces[random.Next(pieces.Length)];
        return text;
    }

    private static void AssertNormalisedEqual(object? expected, object? actual, string path)
    {
        switch (expected)
        {
            case null: Assert.Null(actual); break;
            case string s: Assert.Equal(s, actual); break;
            case bool b: Assert.Equal(b, actual); break;
            case ulong u when u > long.MaxValue: Assert.Equal(u, Assert.IsType<ulong>(actual)); break;
            case sbyte or byte or short or ushort or int or uint or long or ulong:
                Assert.Equal(Convert.ToInt64(expected), Assert.IsType<long>(actual));
                break;
            case float f: Assert.Equal((double)f, Assert.IsType<double>(actual)); break;
            case double d: Assert.Equal(d, Assert.IsType<double>(actual)); break;
            case byte[] bytes: Assert.Equal(bytes, Assert.IsType<byte[]>(actual)); break;
            case IDictionary map:
                var decodedMap = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(actual);
                Assert.Equal(map.Count, decodedMap.Count);
                foreach (DictionaryEntry entry in map)
                    AssertNormalisedEqual(entry.Value, decodedMap[(string)entry.Key], $"{path}[\"{entry.Key}\"]");
                break;
            case IList list:
                var decodedList = Assert.IsAssignableFrom<IReadOnlyList<object?>>(actual);
                Assert.Equal(list.Count, decodedList.Count);
                for (int i = 0; i < list.Count; i++) AssertNormalisedEqual(list[i], decodedList[i], $"{path}[{i}]");
                break;
            default:
                Assert.Fail($"{path}: unexpected generated type {expected.GetType()}");
                break;
        }
    }
}
