using System.Buffers;
using ChannelsRabbitMq.Akka.Wire;
using MessagePack;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

/// <summary>Builds raw msgpack bodies for the codec specs.</summary>
internal static class WireTestData
{
    public const int Unlimited = 64 * 1024 * 1024;

    public delegate void WriteAction(ref MessagePackWriter writer);

    public static byte[] Build(WriteAction write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A body addressed to group "g" whose key "v" holds <paramref name="rawValue"/> verbatim.</summary>
    public static byte[] GroupBodyWithRawValue(params byte[] rawValue) => Build((ref MessagePackWriter w) =>
    {
        w.WriteMapHeader(2);
        w.Write(WireCodec.GroupKey);
        w.Write("g");
        w.Write("v");
        w.WriteRaw(rawValue);
    });

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] EncodeForChannel(Dictionary<string, object?> message, string channel = "q!c") =>
        WireCodec.Encode(message, channel, null, Unlimited);

    /// <summary>Encodes <c>{"v": value}</c> to a channel and decodes it back.</summary>
    public static object? RoundTrip(object? value)
    {
        var body = EncodeForChannel(new Dictionary<string, object?> { ["v"] = value });
        var decoded = WireCodec.Decode(body);
        return decoded.Message["v"];
    }

    /// <summary>A nesting of lists <paramref name="levels"/> deep, counting the message as level 1.</summary>
    public static Dictionary<string, object?> NestedLists(int levels)
    {
        object? value = "leaf";
        for (int i = 1; i < levels; i++) value = new List<object?> { value };
        return new Dictionary<string, object?> { ["v"] = value };
    }

    public static string ToHex(byte[] bytes) => Convert.ToHexString(bytes);
}
