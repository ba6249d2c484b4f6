using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using static ChannelsRabbitMq.Akka.Tests.Wire.WireTestData;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

/// <summary>
/// Bodies exchanged with a real Python msgpack, as channels_rabbitmq 4 uses it
/// (<c>msgpack.packb(dict)</c>, <c>msgpack.unpackb(body)</c> with msgpack 1.x defaults).
/// </summary>
public class PythonInteropSpecs
{
    private static byte[] PackInPython(string pythonMessageExpression, string packArguments = "")
    {
        var base64 = PythonMsgpack.Run($$"""
            import base64, msgpack, sys
            message = {{pythonMessageExpression}}
            sys.stdout.write(base64.b64encode(msgpack.packb(message{{packArguments}})).decode("ascii"))
            """);
        return Convert.FromBase64String(base64);
    }

    /// <summary>Decodes <paramref name="body"/> as channels_rabbitmq's <c>deserialize_message</c> does and prints <c>ascii((recipient, data))</c>.</summary>
    private static string UnpackInPython(byte[] body) => PythonMsgpack.Run("""
        import base64, msgpack, sys
        data = msgpack.unpackb(base64.b64decode(sys.stdin.read()), raw=False)
        channel = data.pop("__asgi_channel__", None)
        group = data.pop("__asgi_group__", None)
        assert (channel is None) != (group is None)
        recipient = ("channel", channel) if channel is not None else ("group", group)
        sys.stdout.write(ascii((recipient, data)))
        """, Convert.ToBase64String(body));

    [Fact]
    public void A_group_message_packed_by_Python_decodes_with_every_value_normalised()
    {
        var body = PackInPython("""
            {
                "type": "interop.message",
                "text": "h\u00e9llo \U0001F600 \u4e2d\u6587",
                "empty": "",
                "bytes": b"\x00\x01\xfe\xff",
                "empty_bytes": b"",
                "small": 7,
                "negative": -1,
                "int8": -100,
                "int16": -30000,
                "uint16": 60000,
                "int32": -2000000000,
                "uint32": 4000000000,
                "max": 2**63 - 1,
                "min": -2**63,
                "umax": 2**64 - 1,
                "float": 1.5,
                "tenth": -0.1,
                "inf": float("inf"),
                "none": None,
                "true": True,
                "false": False,
                "list": [1, "two", 3.0, None, [b"x"]],
                "tuple": (1, 2),
                "nested": {"a": {"b": {"c": [1, {"d": "deep"}]}}},
                "empty_map": {},
                "empty_list": [],
                "__asgi_group__": "room-1",
            }
            """);

        var decoded = WireCodec.Decode(body);

        Assert.Equal("room-1", decoded.Group);
        Assert.Null(decoded.Channel);
        var m = decoded.Message;
        Assert.False(m.ContainsKey(WireCodec.GroupKey));
        Assert.Equal("interop.message", m["type"]);
        Assert.Equal("héllo 😀 中文", m["text"]);
        Assert.Equal("", m["empty"]);
        Assert.Equal(new byte[] { 0, 1, 0xfe, 0xff }, Assert.IsType<byte[]>(m["bytes"]));
        Assert.Empty(Assert.IsType<byte[]>(m["empty_bytes"]));
        Assert.Equal(7L, Assert.IsType<long>(m["small"]));
        Assert.Equal(-1L, Assert.IsType<long>(m["negative"]));
        Assert.Equal(-100L, Assert.IsType<long>(m["int8"]));
        Assert.Equal(-30000L, Assert.IsType<long>(m["int16"]));
        Assert.Equal(60000L, Assert.IsType<long>(m["uint16"]));
        Assert.Equal(-2000000000L, Assert.IsType<long>(m["int32"]));
        Assert.Equal(4000000000L, Assert.IsType<long>(m["uint32"]));
        Assert.Equal(long.MaxValue, Assert.IsType<long>(m["max"]));
        Assert.Equal(long.MinValue, Assert.IsType<long>(m["min"]));
        Assert.Equal(ulong.MaxValue, Assert.IsType<ulong>(m["umax"]));
        Assert.Equal(1.5, Assert.IsType<double>(m["float"]));
        Assert.Equal(-0.1, Assert.IsType<double>(m["tenth"]));
        Assert.Equal(double.PositiveInfinity, Assert.IsType<double>(m["inf"]));
        Assert.Null(m["none"]);
        Assert.True(m.ContainsKey("none"));
        Assert.Equal(true, m["true"]);
        Assert.Equal(false, m["false"]);
        Assert.Equal(new object?[] { 1L, "two", 3.0, null, new object?[] { new byte[] { 0x78 } } }, m["list"]);
        Assert.Equal(new object?[] { 1L, 2L }, m["tuple"]);
        var a = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(m["nested"]);
        var b = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(a["a"]);
        var c = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(b["b"]);
        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(c["c"]);
        Assert.Equal(1L, list[0]);
        Assert.Equal("deep", Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(list[1])["d"]);
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(m["empty_map"]));
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyList<object?>>(m["empty_list"]));
    }

    [Fact]
    public void A_channel_message_serialized_as_channels_rabbitmq_does_decodes_with_its_channel()
    {
        // channels_rabbitmq.util.serialize_message: copy the dict, add the recipient, packb.
        var body = PackInPython("""
            (lambda data: dict(data, __asgi_channel__="channels_abcdefghijkl!mnopqrstuvwx"))({"type": "chat.message", "n": 1})
            """);

        var decoded = WireCodec.Decode(body);

        Assert.Equal("channels_abcdefghijkl!mnopqrstuvwx", decoded.Channel);
        Assert.Null(decoded.Group);
        Assert.Equal(["type", "n"], decoded.Message.Keys);
    }

    [Fact]
    public void A_single_precision_float_packed_by_Python_decodes_as_a_double()
    {
        var body = PackInPython("""{"f": 0.1, "__asgi_group__": "g"}""", ", use_single_float=True");

        Assert.Equal((double)0.1f, Assert.IsType<double>(WireCodec.Decode(body).Message["f"]));
    }

    [Fact]
    public void A_message_encoded_here_unpacks_in_Python_with_str_bytes_and_exact_numbers()
    {
        var message = new Dictionary<string, object?>
        {
            ["type"] = "interop.message",
            ["text"] = "héllo 😀 中文",
            ["bytes"] = new byte[] { 0, 1, 0xfe, 0xff },
            ["memory"] = new ReadOnlyMemory<byte>([0x61, 0x62]),
            ["empty"] = "",
            ["int"] = 42,
            ["byte"] = (byte)255,
            ["short"] = (short)-300,
            ["max"] = long.MaxValue,
            ["min"] = long.MinValue,
            ["umax"] = ulong.MaxValue,
            ["double"] = 1.5,
            ["float"] = 0.1f,
            ["none"] = null,
            ["flags"] = new List<object?> { true, false },
            ["nested"] = new Dictionary<string, object?> { ["a"] = new object?[] { 1, "two", new Dictionary<string, object?>() } },
            ["empty_list"] = Array.Empty<object?>(),
        };

        var printed = UnpackInPython(WireCodec.Encode(message, null, "room-1", Unlimited));

        Assert.Equal(
            "(('group', 'room-1'), {'type': 'interop.message', 'text': 'h\\xe9llo \\U0001f600 \\u4e2d\\u6587', "
            + "'bytes': b'\\x00\\x01\\xfe\\xff', 'memory': b'ab', 'empty': '', 'int': 42, 'byte': 255, 'short': -300, "
            + "'max': 9223372036854775807, 'min': -9223372036854775808, 'umax': 18446744073709551615, "
            + "'double': 1.5, 'float': 0.10000000149011612, 'none': None, 'flags': [True, False], "
            + "'nested': {'a': [1, 'two', {}]}, 'empty_list': []})",
            printed);
    }

    [Fact]
    public void A_channel_message_encoded_here_unpacks_in_Python_with_its_channel()
    {
        var body = WireCodec.Encode(new Dictionary<string, object?> { ["type"] = "x" }, "channels_abc!def", null, Unlimited);

        Assert.Equal("(('channel', 'channels_abc!def'), {'type': 'x'})", UnpackInPython(body));
    }

    [Fact]
    public void A_string_Python_refuses_as_invalid_UTF8_is_refused_here_too()
    {
        // An old-spec packer (use_bin_type=False) writes bytes as str: invalid UTF-8 on the wire.
        var body = PackInPython("""{"v": b"\xff\xfe", "__asgi_group__": "g"}""", ", use_bin_type=False");

        var python = PythonMsgpack.Run("""
            import base64, msgpack, sys
            try:
                msgpack.unpackb(base64.b64decode(sys.stdin.read()), raw=False)
                print("accepted")
            except UnicodeDecodeError:
                print("refused")
            """, Convert.ToBase64String(body));

        Assert.Equal("refused", python);
        Assert.Throws<MalformedMessageException>(() => WireCodec.Decode(body));
    }

    [Fact]
    public void Random_messages_encoded_here_are_equal_after_a_trip_through_Python()
    {
        var random = new Random(7);
        var bodies = new List<string>();
        for (int i = 0; i < 200; i++)
        {
            var message = new Dictionary<string, object?>
            {
                ["i"] = random.NextInt64(long.MinValue, long.MaxValue),
                ["s"] = new string((char)random.Next(0x20, 0xd7ff), random.Next(0, 40)),
                ["b"] = Enumerable.Range(0, random.Next(0, 20)).Select(_ => (byte)random.Next(256)).ToArray(),
                ["d"] = random.NextDouble(),
                ["l"] = new List<object?> { random.Next(), null, random.Next(2) == 0 },
            };
            bodies.Add(Convert.ToBase64String(WireCodec.Encode(message, "q!c" + i, null, Unlimited)));
        }

        // Python decodes each body and packs it again; what comes back must decode to the same.
        var repacked = PythonMsgpack.Run("""
            import base64, msgpack, sys
            for line in sys.stdin.read().split():
                data = msgpack.unpackb(base64.b64decode(line), raw=False)
                print(base64.b64encode(msgpack.packb(data)).decode("ascii"))
            """, string.Join("\n", bodies)).Split('\n');

        Assert.Equal(bodies.Count, repacked.Length);
        for (int i = 0; i < bodies.Count; i++)
        {
            var original = WireCodec.Decode(Convert.FromBase64String(bodies[i]));
            var roundTripped = WireCodec.Decode(Convert.FromBase64String(repacked[i]));
            Assert.Equal(original.Channel, roundTripped.Channel);
            Assert.Equal(original.Message, roundTripped.Message);
        }
    }
}
