using System.Buffers.Binary;
using System.Text;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// msgpack bytes written by hand from the specification (https://github.com/msgpack/msgpack/blob/master/spec.md),
/// independent of the library's codec and of MessagePack-CSharp: what a Python
/// <c>msgpack.packb</c> would put on the wire.
/// </summary>
internal static class HandWrittenMsgPack
{
    public static byte[] Nil => [0xc0];
    public static byte[] True => [0xc3];
    public static byte[] False => [0xc2];

    public static byte[] Str(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        byte[] header = utf8.Length switch
        {
            < 32 => [(byte)(0xa0 | utf8.Length)],
            < 256 => [0xd9, (byte)utf8.Length],
            < 65536 => [0xda, (byte)(utf8.Length >> 8), (byte)utf8.Length],
            _ => throw new ArgumentOutOfRangeException(nameof(value)),
        };
        return [.. header, .. utf8];
    }

    public static byte[] Bin(params byte[] value) =>
        value.Length < 256 ? [0xc4, (byte)value.Length, .. value] : throw new ArgumentOutOfRangeException(nameof(value));

    /// <summary>positive fixint (0..127) or negative fixint (-32..-1).</summary>
    public static byte[] FixInt(int value) => value switch
    {
        >= 0 and <= 127 => [(byte)value],
        >= -32 and < 0 => [(byte)(sbyte)value],
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    public static byte[] Int8(sbyte value) => [0xd0, (byte)value];

    public static byte[] Int64(long value)
    {
        var bytes = new byte[9];
        bytes[0] = 0xd3;
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(1), value);
        return bytes;
    }

    public static byte[] UInt64(ulong value)
    {
        var bytes = new byte[9];
        bytes[0] = 0xcf;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1), value);
        return bytes;
    }

    public static byte[] Float32(float value)
    {
        var bytes = new byte[5];
        bytes[0] = 0xca;
        BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(1), value);
        return bytes;
    }

    public static byte[] Float64(double value)
    {
        var bytes = new byte[9];
        bytes[0] = 0xcb;
        BinaryPrimitives.WriteDoubleBigEndian(bytes.AsSpan(1), value);
        return bytes;
    }

    public static byte[] Array(params byte[][] items) =>
        items.Length < 16 ? [(byte)(0x90 | items.Length), .. items.SelectMany(i => i)] : throw new ArgumentOutOfRangeException(nameof(items));

    /// <summary>A map of alternating keys and values.</summary>
    public static byte[] Map(params byte[][] keysAndValues)
    {
        if (keysAndValues.Length % 2 != 0) throw new ArgumentException("keys and values must alternate", nameof(keysAndValues));
        var count = keysAndValues.Length / 2;
        return count < 16
            ? [(byte)(0x80 | count), .. keysAndValues.SelectMany(i => i)]
            : throw new ArgumentOutOfRangeException(nameof(keysAndValues));
    }

    /// <summary>Where <paramref name="needle"/> occurs in <paramref name="haystack"/>, or -1.</summary>
    public static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
