using ChannelsRabbitMq.Akka.Wire;
using MessagePack;
using Xunit;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class WireCodecDecodeSpecs
{
    private static MalformedMessageException Malformed(byte[] body) =>
        Assert.Throws<MalformedMessageException>(() => WireCodec.Decode(body));

    [Fact]
    public void An_empty_body_is_malformed()
    {
        Malformed([]);
    }

    [Theory]
    [InlineData("90")] // []
    [InlineData("01")] // 1
    [InlineData("A3616263")] // "abc"
    [InlineData("C0")] // nil
    [InlineData("C40161")] // bin
    public void A_body_that_is_not_a_map_is_malformed(string hex)
    {
        var e = Malformed(Hex(hex));
        Assert.Contains("not a map", e.Message);
    }

    [Fact]
    public void A_top_level_non_string_key_is_malformed()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write(WireCodec.GroupKey);
            w.Write("g");
            w.Write(1);
            w.Write("one");
        });
        Assert.Contains("key", Malformed(body).Message);
    }

    [Fact]
    public void A_binary_key_is_malformed()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write(WireCodec.GroupKey);
            w.Write("g");
            w.Write(new byte[] { 0x61 });
            w.Write("one");
        });
        Malformed(body);
    }

    [Fact]
    public void A_nested_map_with_a_non_string_key_is_malformed()
    {
        Malformed(GroupBodyWithRawValue(Hex("81 01 02"))); // {1: 2}
    }

    [Fact]
    public void A_body_without_a_recipient_is_malformed()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(1);
            w.Write("type");
            w.Write("x");
        });
        Assert.Contains("neither", Malformed(body).Message);
    }

    [Fact]
    public void A_body_with_both_recipients_is_malformed()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write(WireCodec.ChannelKey);
            w.Write("q!c");
            w.Write(WireCodec.GroupKey);
            w.Write("g");
        });
        Assert.Contains("both", Malformed(body).Message);
    }

    [Theory]
    [InlineData("01")] // int
    [InlineData("C0")] // nil
    [InlineData("C40167")] // bin "g"
    [InlineData("91A167")] // ["g"]
    public void A_recipient_that_is_not_a_string_is_malformed(string valueHex)
    {
        var body = Concat(Hex("81"), Hex("AE5F5F617367695F67726F75705F5F"), Hex(valueHex));
        Assert.Contains("not a string", Malformed(body).Message);
    }

    [Fact]
    public void A_repeated_recipient_key_keeps_its_last_value_as_Python_does()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write(WireCodec.GroupKey);
            w.Write("first");
            w.Write(WireCodec.GroupKey);
            w.Write("second");
        });
        Assert.Equal("second", WireCodec.Decode(body).Group);
    }

    [Fact]
    public void A_repeated_key_keeps_its_last_value_as_Python_does()
    {
        var body = Build((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(3);
            w.Write("k");
            w.Write(1);
            w.Write(WireCodec.GroupKey);
            w.Write("g");
            w.Write("k");
            w.Write(2);
        });
        Assert.Equal(2L, WireCodec.Decode(body).Message["k"]);
    }

    [Theory]
    [InlineData("A3 61 FF 62")] // 0xFF never appears in UTF-8
    [InlineData("A2 C0 AF")] // overlong "/"
    [InlineData("A3 ED A0 80")] // an encoded surrogate (CESU-8)
    [InlineData("A1 80")] // a lone continuation byte
    [InlineData("A2 E4 B8")] // a truncated sequence
    [InlineData("A4 F4 90 80 80")] // above U+10FFFF
    public void A_string_value_that_is_not_valid_UTF8_is_malformed(string strHex)
    {
        Assert.Contains("UTF-8", Malformed(GroupBodyWithRawValue(Hex(strHex))).Message);
    }

    [Fact]
    public void A_key_that_is_not_valid_UTF8_is_malformed()
    {
        var body = Concat(Hex("82"), Hex("AE5F5F617367695F67726F75705F5F A167"), Hex("A2 C3 28"), Hex("01"));
        Assert.Contains("UTF-8", Malformed(body).Message);
    }

    [Fact]
    public void A_recipient_that_is_not_valid_UTF8_is_malformed()
    {
        var body = Concat(Hex("81"), Hex("AE5F5F617367695F67726F75705F5F"), Hex("A1 FF"));
        Assert.Contains("UTF-8", Malformed(body).Message);
    }

    [Fact]
    public void Nesting_deeper_than_the_depth_limit_is_malformed()
    {
        // The message map is level 1, so MaxDepth levels of arrays under it is one too many.
        var nested = Enumerable.Repeat((byte)0x91, WireCodec.MaxDepth).Append((byte)0x01).ToArray();
        Assert.Contains("nested deeper", Malformed(GroupBodyWithRawValue(nested)).Message);
    }

    [Fact]
    public void Nesting_exactly_at_the_depth_limit_decodes()
    {
        var nested = Enumerable.Repeat((byte)0x91, WireCodec.MaxDepth - 1).Append((byte)0x01).ToArray();
        WireCodec.Decode(GroupBodyWithRawValue(nested));
    }

    [Fact]
    public void Every_truncation_of_a_valid_body_is_malformed()
    {
        var body = EncodeForChannel(new Dictionary<string, object?>
        {
            ["type"] = "x.y",
            ["n"] = 100_000,
            ["big"] = long.MinValue,
            ["f"] = 1.25,
            ["b"] = new byte[] { 1, 2, 3 },
            ["l"] = new List<object?> { "a", new Dictionary<string, object?> { ["k"] = null } },
            ["u"] = "ü😀",
        });

        for (int length = 0; length < body.Length; length++)
        {
            var truncated = body.AsSpan(0, length).ToArray();
            Assert.Throws<MalformedMessageException>(() => WireCodec.Decode(truncated));
        }
    }

    [Fact]
    public void Trailing_bytes_after_the_map_are_malformed()
    {
        var body = Concat(EncodeForChannel(new Dictionary<string, object?> { ["type"] = "x" }), [0xC0]);
        Assert.Contains("trailing", Malformed(body).Message);
    }

    [Theory]
    [InlineData("DB 7FFFFFFF 61")] // str32 declaring 2 GiB
    [InlineData("DB FFFFFFFF 61")] // str32 declaring 4 GiB
    [InlineData("C6 7FFFFFFF 61")] // bin32 declaring 2 GiB
    [InlineData("C6 FFFFFFFF 61")]
    [InlineData("DD 7FFFFFFF 01")] // array32 declaring 2^31-1 elements
    [InlineData("DD FFFFFFFF 01")]
    [InlineData("DF 7FFFFFFF 01 01")] // map32 declaring 2^31-1 pairs
    [InlineData("DF FFFFFFFF 01 01")]
    [InlineData("DC FFFF 01")] // array16
    [InlineData("DE FFFF 01")] // map16
    public void A_huge_declared_length_is_malformed_without_allocating_it(string valueHex)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Malformed(GroupBodyWithRawValue(Hex(valueHex)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000, "allocated in proportion to the declared length");
    }

    [Fact]
    public void A_huge_declared_top_level_map_is_malformed()
    {
        Malformed(Hex("DF 7FFFFFFF A161 01"));
        Malformed(Hex("DF FFFFFFFF A161 01"));
    }

    [Fact]
    public void Nested_huge_declared_counts_do_not_allocate_in_proportion_to_the_body()
    {
        // Each header claims about as many elements as there are bytes left: the reader's
        // remaining-bytes check passes at every level, and only a capped pre-size keeps the
        // allocation small.
        var body = new List<byte>();
        for (int i = 0; i < 40; i++)
        {
            body.Add(0xDD);
            body.AddRange(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(100_000)));
        }
        body.AddRange(new byte[200_000]); // positive fixints, too few for what was declared
        long before = GC.GetAllocatedBytesForCurrentThread();
        Malformed(GroupBodyWithRawValue(body.ToArray()));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 20_000_000, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData("D4 01 00")] // fixext1
    [InlineData("D5 05 0000")] // fixext2
    [InlineData("C7 03 07 616263")] // ext8
    [InlineData("D6 FF 00000000")] // timestamp32
    [InlineData("D7 FF 0000000000000000")] // timestamp64
    public void An_extension_value_is_malformed(string valueHex)
    {
        Assert.Contains("extension", Malformed(GroupBodyWithRawValue(Hex(valueHex))).Message);
    }

    [Fact]
    public void The_never_used_code_is_malformed()
    {
        Malformed(GroupBodyWithRawValue(0xC1));
    }

    [Fact]
    public void A_valid_body_built_by_hand_decodes()
    {
        // {"__asgi_group__": "g", "v": [1, -1, 200, -200, 1.5 (float32), nil, true, "s", b"b"]}
        var decoded = WireCodec.Decode(GroupBodyWithRawValue(Hex("99 01 FF CCC8 D1FF38 CA3FC00000 C0 C3 A173 C40162")));

        Assert.Equal("g", decoded.Group);
        Assert.Equal(new object?[] { 1L, -1L, 200L, -200L, 1.5d, null, true, "s", new byte[] { 0x62 } }, decoded.Message["v"]);
    }
}
