using System.Collections;
using System.Collections.ObjectModel;
using System.Dynamic;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class WireCodecRoundTripSpecs
{
    [Fact]
    public void A_message_sent_to_a_channel_decodes_with_that_channel_and_without_the_reserved_key()
    {
        var body = WireCodec.Encode(new Dictionary<string, object?> { ["type"] = "chat.message" }, "q!abc", null, Unlimited);

        var decoded = WireCodec.Decode(body);

        Assert.Equal("q!abc", decoded.Channel);
        Assert.Null(decoded.Group);
        Assert.Equal(["type"], decoded.Message.Keys);
        Assert.Equal("chat.message", decoded.Message["type"]);
    }

    [Fact]
    public void A_message_sent_to_a_group_decodes_with_that_group_and_without_the_reserved_key()
    {
        var body = WireCodec.Encode(new Dictionary<string, object?> { ["type"] = "chat.message" }, null, "room-1", Unlimited);

        var decoded = WireCodec.Decode(body);

        Assert.Equal("room-1", decoded.Group);
        Assert.Null(decoded.Channel);
        Assert.Equal(["type"], decoded.Message.Keys);
    }

    [Fact]
    public void An_empty_message_round_trips()
    {
        var decoded = WireCodec.Decode(WireCodec.Encode(new Dictionary<string, object?>(), "q!c", null, Unlimited));
        Assert.Empty(decoded.Message);
        Assert.Equal("q!c", decoded.Channel);
    }

    [Fact]
    public void A_body_decodes_from_a_span_as_from_memory()
    {
        var body = EncodeForChannel(new Dictionary<string, object?> { ["type"] = "x", ["n"] = 5 });

        var fromSpan = WireCodec.Decode(new ReadOnlySpan<byte>(body));
        var fromMemory = WireCodec.Decode(new ReadOnlyMemory<byte>(body));

        Assert.Equal(fromMemory.Message, fromSpan.Message);
        Assert.Equal(fromMemory.Channel, fromSpan.Channel);
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain ascii")]
    [InlineData("héllo wörld")]
    [InlineData("中文字符 日本語 한국어")]
    [InlineData("emoji 😀👍🏽 and a ZWJ family 👨‍👩‍👧")]
    [InlineData("nul \0 inside")]
    public void A_string_round_trips_as_a_string(string text)
    {
        Assert.Equal(text, RoundTrip(text));
    }

    [Fact]
    public void A_long_string_round_trips()
    {
        var text = string.Concat(Enumerable.Repeat("abc😀", 30_000));
        Assert.Equal(text, RoundTrip(text));
    }

    [Fact]
    public void Null_round_trips_as_null()
    {
        Assert.Null(RoundTrip(null));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_bool_round_trips_as_a_bool(bool value)
    {
        Assert.Equal(value, RoundTrip(value));
    }

    public static TheoryData<object, long> IntegersOfEveryWidth => new()
    {
        { (sbyte)-5, -5L },
        { sbyte.MinValue, sbyte.MinValue },
        { (byte)200, 200L },
        { (short)-30_000, -30_000L },
        { (ushort)60_000, 60_000L },
        { 0, 0L },
        { int.MinValue, int.MinValue },
        { int.MaxValue, int.MaxValue },
        { uint.MaxValue, uint.MaxValue },
        { 42L, 42L },
        { long.MinValue, long.MinValue },
        { long.MaxValue, long.MaxValue },
        { (ulong)12345, 12345L },
        { (ulong)long.MaxValue, long.MaxValue },
    };

    [Theory]
    [MemberData(nameof(IntegersOfEveryWidth))]
    public void An_integer_of_any_width_decodes_as_a_long(object value, long expected)
    {
        var decoded = RoundTrip(value);
        Assert.IsType<long>(decoded);
        Assert.Equal(expected, decoded);
    }

    [Fact]
    public void A_ulong_above_long_MaxValue_decodes_as_a_ulong()
    {
        Assert.Equal(ulong.MaxValue, Assert.IsType<ulong>(RoundTrip(ulong.MaxValue)));
        Assert.Equal((ulong)long.MaxValue + 1, Assert.IsType<ulong>(RoundTrip((ulong)long.MaxValue + 1)));
    }

    [Fact]
    public void Small_integers_decode_to_shared_boxes_and_large_ones_still_have_their_value()
    {
        Assert.Same(RoundTrip(7), RoundTrip(7));
        Assert.Equal(1_000_000L, RoundTrip(1_000_000));
        Assert.Equal(-129L, RoundTrip(-129));
        Assert.Equal(1024L, RoundTrip(1024));
    }

    [Fact]
    public void A_float_decodes_as_the_same_double()
    {
        Assert.Equal(1.5d, Assert.IsType<double>(RoundTrip(1.5f)));
        Assert.Equal((double)0.1f, Assert.IsType<double>(RoundTrip(0.1f)));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(3.141592653589793)]
    [InlineData(double.MaxValue)]
    [InlineData(double.Epsilon)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(double.NaN)]
    public void A_double_round_trips_exactly(double value)
    {
        Assert.Equal(value, Assert.IsType<double>(RoundTrip(value)));
    }

    [Fact]
    public void Byte_array_round_trips_as_a_byte_array()
    {
        byte[] bytes = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];
        Assert.Equal(bytes, Assert.IsType<byte[]>(RoundTrip(bytes)));
    }

    [Fact]
    public void An_empty_byte_array_round_trips_as_an_empty_byte_array()
    {
        Assert.Empty(Assert.IsType<byte[]>(RoundTrip(Array.Empty<byte>())));
    }

    [Fact]
    public void A_large_byte_array_round_trips()
    {
        var bytes = new byte[100_000];
        new Random(1).NextBytes(bytes);
        Assert.Equal(bytes, RoundTrip(bytes));
    }

    [Fact]
    public void Memory_and_segment_bytes_decode_as_byte_arrays()
    {
        byte[] backing = [9, 1, 2, 3, 9];
        Assert.Equal([1, 2, 3], Assert.IsType<byte[]>(RoundTrip(new ReadOnlyMemory<byte>(backing, 1, 3))));
        Assert.Equal([1, 2, 3], Assert.IsType<byte[]>(RoundTrip(new Memory<byte>(backing, 1, 3))));
        Assert.Equal([1, 2, 3], Assert.IsType<byte[]>(RoundTrip(new ArraySegment<byte>(backing, 1, 3))));
    }

    [Fact]
    public void A_list_of_mixed_values_decodes_as_an_array_of_normalised_values()
    {
        var decoded = RoundTrip(new List<object?> { 1, "two", 3.0f, null, true, new byte[] { 4 } });

        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(decoded);
        Assert.Equal([1L, "two", 3.0d, null, true, new byte[] { 4 }], list);
    }

    [Fact]
    public void An_array_of_ints_decodes_as_a_list_of_longs()
    {
        Assert.Equal(new object?[] { 1L, 2L, 3L }, RoundTrip(new[] { 1, 2, 3 }));
    }

    [Fact]
    public void A_lazy_sequence_decodes_as_a_list()
    {
        Assert.Equal(new object?[] { 0L, 2L, 4L }, RoundTrip(Enumerable.Range(0, 3).Select(i => i * 2)));
    }

    [Fact]
    public void A_set_decodes_as_a_list()
    {
        Assert.Equal(new object?[] { "only" }, RoundTrip(new HashSet<string> { "only" }));
    }

    [Fact]
    public void A_list_of_bytes_decodes_as_a_list_of_integers_not_as_bytes()
    {
        Assert.Equal(new object?[] { 1L, 2L }, RoundTrip(new List<byte> { 1, 2 }));
    }

    [Fact]
    public void An_empty_list_round_trips_as_an_empty_list()
    {
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyList<object?>>(RoundTrip(new List<object?>())));
    }

    [Fact]
    public void A_large_list_round_trips()
    {
        var items = Enumerable.Range(0, 5000).Select(i => (object?)(long)i).ToList();
        Assert.Equal(items, Assert.IsAssignableFrom<IReadOnlyList<object?>>(RoundTrip(items)));
    }

    [Fact]
    public void Nested_maps_and_lists_round_trip_as_read_only_dictionaries_and_lists()
    {
        var message = new Dictionary<string, object?>
        {
            ["a"] = new Dictionary<string, object?>
            {
                ["b"] = new List<object?> { 1, new Dictionary<string, object?> { ["c"] = "deep" } },
                ["e"] = new Dictionary<string, object?>(),
            },
        };

        var decoded = WireCodec.Decode(EncodeForChannel(message)).Message;

        var a = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(decoded["a"]);
        var b = Assert.IsAssignableFrom<IReadOnlyList<object?>>(a["b"]);
        Assert.Equal(1L, b[0]);
        var inner = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(b[1]);
        Assert.Equal("deep", inner["c"]);
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(a["e"]));
    }

    [Fact]
    public void A_generic_dictionary_of_strings_decodes_as_a_map()
    {
        var decoded = RoundTrip(new Dictionary<string, string> { ["k"] = "v" });
        Assert.Equal("v", Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(decoded)["k"]);
    }

    [Fact]
    public void A_hashtable_with_string_keys_decodes_as_a_map()
    {
        var decoded = RoundTrip(new Hashtable { ["k"] = 1 });
        Assert.Equal(1L, Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(decoded)["k"]);
    }

    [Fact]
    public void An_expando_object_decodes_as_a_map()
    {
        dynamic expando = new ExpandoObject();
        expando.k = "v";
        var decoded = RoundTrip((object)expando);
        Assert.Equal("v", Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(decoded)["k"]);
    }

    [Fact]
    public void A_read_only_dictionary_message_encodes_like_a_dictionary()
    {
        var message = new ReadOnlyDictionary<string, object?>(new Dictionary<string, object?> { ["type"] = "x", ["n"] = 1 });

        var decoded = WireCodec.Decode(WireCodec.Encode(message, null, "g", Unlimited));

        Assert.Equal("x", decoded.Message["type"]);
        Assert.Equal(1L, decoded.Message["n"]);
    }

    [Fact]
    public void Unicode_keys_round_trip()
    {
        var decoded = RoundTrip(new Dictionary<string, object?> { ["clé 🔑"] = 1, ["键"] = 2 });
        var map = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(decoded);
        Assert.Equal(1L, map["clé 🔑"]);
        Assert.Equal(2L, map["键"]);
    }

    [Fact]
    public void Nesting_up_to_the_depth_limit_round_trips()
    {
        var decoded = WireCodec.Decode(EncodeForChannel(NestedLists(WireCodec.MaxDepth))).Message;

        object? value = decoded["v"];
        for (int i = 1; i < WireCodec.MaxDepth; i++) value = Assert.IsAssignableFrom<IReadOnlyList<object?>>(value)[0];
        Assert.Equal("leaf", value);
    }

    [Fact]
    public void Key_order_is_kept()
    {
        var message = new Dictionary<string, object?> { ["z"] = 1, ["a"] = 2, ["m"] = 3 };
        Assert.Equal(["z", "a", "m"], WireCodec.Decode(EncodeForChannel(message)).Message.Keys);
    }

    [Fact]
    public void A_body_exactly_at_the_maximum_size_is_accepted()
    {
        var message = new Dictionary<string, object?> { ["type"] = "x" };
        int size = EncodeForChannel(message).Length;

        Assert.Equal(size, WireCodec.Encode(message, "q!c", null, size).Length);
    }

    [Fact]
    public void Encoding_is_thread_safe()
    {
        Parallel.For(0, 2000, i =>
        {
            var message = new Dictionary<string, object?> { ["i"] = i, ["text"] = new string('x', i % 300) };
            var decoded = WireCodec.Decode(WireCodec.Encode(message, $"q!c{i}", null, Unlimited));
            Assert.Equal((long)i, decoded.Message["i"]);
            Assert.Equal($"q!c{i}", decoded.Channel);
            Assert.Equal(i % 300, ((string)decoded.Message["text"]!).Length);
        });
    }
}
