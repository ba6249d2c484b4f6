using System.Collections;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class WireCodecEncodeSpecs
{
    private sealed class Custom;

    private enum Colour { Red }

    private static ArgumentException EncodeFails(object? value) =>
        Assert.Throws<ArgumentException>(() => EncodeForChannel(new Dictionary<string, object?> { ["v"] = value }));

    [Theory]
    [InlineData(WireCodec.ChannelKey)]
    [InlineData(WireCodec.GroupKey)]
    public void A_message_holding_a_reserved_key_is_refused(string key)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            WireCodec.Encode(new Dictionary<string, object?> { [key] = "x" }, null, "g", Unlimited));
        Assert.Equal("message", e.ParamName);
        Assert.Contains(key, e.Message);
        Assert.Contains("reserved", e.Message);
    }

    [Fact]
    public void A_reserved_key_inside_a_nested_map_is_an_ordinary_key()
    {
        var nested = new Dictionary<string, object?> { [WireCodec.ChannelKey] = "not the recipient" };
        var decoded = WireCodec.Decode(EncodeForChannel(new Dictionary<string, object?> { ["v"] = nested }, "q!real"));
        Assert.Equal("q!real", decoded.Channel);
    }

    public static TheoryData<object> UnsupportedValues => new()
    {
        1.5m,
        DateTime.UnixEpoch,
        DateTimeOffset.UnixEpoch,
        Guid.Empty,
        'c',
        TimeSpan.Zero,
        new Custom(),
        Colour.Red,
        (nint)1,
        new KeyValuePair<string, object?>("k", "v"),
        new Uri("http://example.com/"),
    };

    [Theory]
    [MemberData(nameof(UnsupportedValues))]
    public void An_unsupported_value_type_is_refused_naming_the_type(object value)
    {
        var e = EncodeFails(value);
        Assert.Equal("message", e.ParamName);
        Assert.Contains(value.GetType().FullName!, e.Message);
        Assert.Contains("message[\"v\"]", e.Message);
    }

    [Fact]
    public void An_unsupported_value_deep_inside_is_refused_naming_its_key_path()
    {
        var message = new Dictionary<string, object?>
        {
            ["ok"] = 1,
            ["outer"] = new Dictionary<string, object?> { ["list"] = new List<object?> { "fine", 2, 3.5m } },
        };

        var e = Assert.Throws<ArgumentException>(() => EncodeForChannel(message));

        Assert.Contains("message[\"outer\"][\"list\"][2]", e.Message);
        Assert.Contains("System.Decimal", e.Message);
    }

    [Fact]
    public void A_map_with_a_non_string_key_is_refused()
    {
        var e = EncodeFails(new Dictionary<int, string> { [1] = "one" });
        Assert.Contains("System.Int32", e.Message);
        Assert.Contains("keys must be strings", e.Message);
    }

    [Fact]
    public void A_hashtable_with_a_non_string_key_is_refused()
    {
        var e = EncodeFails(new Hashtable { ["ok"] = 1, [2] = "two" });
        Assert.Contains("keys must be strings", e.Message);
    }

    [Fact]
    public void A_string_value_with_a_lone_surrogate_is_refused()
    {
        var e = EncodeFails("broken \ud83d here");
        Assert.Contains("surrogate", e.Message);
        Assert.Contains("message[\"v\"]", e.Message);
    }

    [Fact]
    public void A_key_with_a_lone_surrogate_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            EncodeForChannel(new Dictionary<string, object?> { ["bad\udc00key"] = 1 }));
        Assert.Contains("surrogate", e.Message);
    }

    [Fact]
    public void A_channel_name_with_a_lone_surrogate_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            WireCodec.Encode(new Dictionary<string, object?>(), "q!\ud800", null, Unlimited));
        Assert.Equal("channel", e.ParamName);
    }

    [Fact]
    public void Nesting_deeper_than_the_depth_limit_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => EncodeForChannel(NestedLists(WireCodec.MaxDepth + 1)));
        Assert.Contains("nested deeper", e.Message);
    }

    [Fact]
    public void A_list_that_contains_itself_is_refused_by_the_depth_limit()
    {
        var cycle = new List<object?>();
        cycle.Add(cycle);
        var e = EncodeFails(cycle);
        Assert.Contains("nested deeper", e.Message);
    }

    [Fact]
    public void Neither_channel_nor_group_is_refused()
    {
        Assert.Throws<ArgumentException>(() => WireCodec.Encode(new Dictionary<string, object?>(), null, null, Unlimited));
    }

    [Fact]
    public void Both_channel_and_group_are_refused()
    {
        Assert.Throws<ArgumentException>(() => WireCodec.Encode(new Dictionary<string, object?>(), "q!c", "g", Unlimited));
    }

    [Fact]
    public void A_null_message_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => WireCodec.Encode(null!, "q!c", null, Unlimited));
    }

    [Fact]
    public void A_message_larger_than_the_maximum_size_is_refused_stating_both_sizes()
    {
        var message = new Dictionary<string, object?> { ["blob"] = new byte[2000] };
        int size = EncodeForChannel(message).Length;

        var e = Assert.Throws<MessageTooLargeException>(() => WireCodec.Encode(message, "q!c", null, 1000));

        Assert.Contains($"{size} bytes", e.Message);
        Assert.Contains("1000 bytes", e.Message);
    }

    [Fact]
    public void A_message_one_byte_over_the_maximum_size_is_refused()
    {
        var message = new Dictionary<string, object?> { ["type"] = "x" };
        int size = EncodeForChannel(message).Length;

        Assert.Throws<MessageTooLargeException>(() => WireCodec.Encode(message, "q!c", null, size - 1));
    }

    [Fact]
    public void A_failed_encoding_leaves_nothing_behind_for_the_next_one()
    {
        var good = new Dictionary<string, object?> { ["type"] = "x" };
        var expected = EncodeForChannel(good);
        Assert.Throws<ArgumentException>(() =>
            EncodeForChannel(new Dictionary<string, object?> { ["a"] = new string('z', 500), ["b"] = 1m }));
        Assert.Throws<MessageTooLargeException>(() => WireCodec.Encode(good, "q!c", null, 2));

        Assert.Equal(expected, EncodeForChannel(good));
    }

    [Fact]
    public void Strings_are_written_as_msgpack_str_and_bytes_as_msgpack_bin()
    {
        var body = WireCodec.Encode(new Dictionary<string, object?> { ["s"] = "hi", ["b"] = new byte[] { 1 } }, null, "g", Unlimited);

        // map of 3; "s": fixstr "hi"; "b": bin8 of 1 byte; "__asgi_group__": "g"
        Assert.Equal("83" + "A173" + "A26869" + "A162" + "C40101" + "AE5F5F617367695F67726F75705F5F" + "A167", ToHex(body));
    }

    [Fact]
    public void Long_MaxValue_and_MinValue_are_written_as_msgpack_64_bit_integers()
    {
        var body = EncodeForChannel(new Dictionary<string, object?> { ["max"] = long.MaxValue, ["min"] = long.MinValue });
        var hex = ToHex(body);
        Assert.Contains("CF7FFFFFFFFFFFFFFF", hex); // uint64: MessagePack-CSharp's (and Python's) form for a positive value
        Assert.Contains("D38000000000000000", hex); // int64
    }
}
