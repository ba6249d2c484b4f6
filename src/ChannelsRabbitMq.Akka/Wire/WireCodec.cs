using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.Text;
using MessagePack;

namespace ChannelsRabbitMq.Akka.Wire;

/// <summary>
/// The message body on the wire, as channels_rabbitmq (Python <c>msgpack.packb</c> /
/// <c>unpackb(raw=False)</c>): a msgpack map of the message's keys plus exactly one of
/// <c>"__asgi_channel__": channel</c> or <c>"__asgi_group__": group</c>.
/// </summary>
/// <remarks>
/// Built on MessagePack-CSharp's low-level <see cref="MessagePackWriter"/> /
/// <see cref="MessagePackReader"/> only: the dynamic and typeless resolvers would hand back
/// wire-width CLR types (<c>byte</c>, <c>short</c>, …), <c>Dictionary&lt;object, object&gt;</c>,
/// and the typeless one must never see network input. The reader side applies the
/// <c>MessagePackSecurity.UntrustedData</c> ideas itself: a depth limit, and
/// <see cref="Dictionary{TKey,TValue}"/> with the default string comparer, which .NET switches
/// to randomized hashing as soon as it sees many collisions (hash-flooding resistant).
/// </remarks>
internal static class WireCodec
{
    /// <summary>The reserved key naming the destination channel.</summary>
    public const string ChannelKey = "__asgi_channel__";

    /// <summary>The reserved key naming the destination group.</summary>
    public const string GroupKey = "__asgi_group__";

    /// <summary>
    /// The deepest nesting of maps and lists, the message map itself being level 1. Deeper is
    /// refused on both sides (it bounds recursion; a legitimate message is far shallower).
    /// </summary>
    public const int MaxDepth = 64;

    // A declared map/array count only pre-sizes a collection up to this; beyond it the
    // collection grows as elements actually arrive. The reader checks a count against the
    // bytes left, but nested headers each check against the *whole* remainder, so without a
    // cap a small hostile body could make every level allocate in proportion to it.
    private const int MaxPresizedCount = 1024;

    // A thread's encode buffer is kept for reuse unless a big message made it bigger than this.
    private const int MaxRetainedBufferSize = 1024 * 1024;

    private static ReadOnlySpan<byte> ChannelKeyUtf8 => "__asgi_channel__"u8;

    private static ReadOnlySpan<byte> GroupKeyUtf8 => "__asgi_group__"u8;

    // Strict in both directions: Python refuses invalid UTF-8 (and a lone surrogate cannot be
    // encoded), whereas MessagePack-CSharp's Write(string)/ReadString silently substitute U+FFFD.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;

    // ---------------------------------------------------------------- encode

    /// <summary>
    /// Encodes <paramref name="message"/> for <paramref name="channel"/> or
    /// <paramref name="group"/> (exactly one must be non-null).
    /// </summary>
    /// <remarks>
    /// Supported values, nested up to <see cref="MaxDepth"/>: <c>null</c>; <c>string</c> (msgpack
    /// str); <c>bool</c>; <c>sbyte</c> … <c>ulong</c> (msgpack int, smallest form); <c>float</c>
    /// (float32) and <c>double</c> (float64); <c>byte[]</c>, <c>ReadOnlyMemory&lt;byte&gt;</c>,
    /// <c>Memory&lt;byte&gt;</c>, <c>ArraySegment&lt;byte&gt;</c> (msgpack bin, Python <c>bytes</c>);
    /// maps with string keys (<c>IReadOnlyDictionary&lt;string, object?&gt;</c>,
    /// <c>IDictionary&lt;string, object?&gt;</c>, or an <c>IDictionary</c> whose keys are all
    /// strings); any other <c>IEnumerable</c> as a msgpack array (so a <c>List&lt;byte&gt;</c> is a
    /// list of integers, not bytes). Anything else (decimal, DateTime, Guid, char, enums, custom
    /// objects) is refused. The encoding happens in a private buffer, so an exception leaves
    /// nothing behind.
    /// </remarks>
    /// <exception cref="ArgumentException">A reserved key, an unsupported value type, nesting
    /// deeper than <see cref="MaxDepth"/>, a string that is not valid UTF-16 (lone surrogate), or
    /// not exactly one recipient. The message names the offending key path.</exception>
    /// <exception cref="MessageTooLargeException">The body would be larger than <paramref name="maxSize"/> bytes.</exception>
    public static byte[] Encode(IReadOnlyDictionary<string, object?> message, string? channel, string? group, int maxSize)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSize);
        if ((channel is null) == (group is null))
            throw new ArgumentException("Exactly one of channel and group must be given.", channel is null ? nameof(channel) : nameof(group));

        // Taken out of the slot while in use, so a re-entrant call cannot share it.
        var buffer = t_buffer ?? new ArrayBufferWriter<byte>(256);
        t_buffer = null;
        try
        {
            var writer = new MessagePackWriter(buffer);
            try
            {
                WriteMessage(ref writer, message);
            }
            catch (EncodeError e)
            {
                throw new ArgumentException($"The value at message{e.DescribePath()} cannot be sent: {e.Problem}.", nameof(message));
            }
            try
            {
                writer.WriteString(channel is not null ? ChannelKeyUtf8 : GroupKeyUtf8);
                WriteString(ref writer, channel ?? group!);
            }
            catch (EncodeError e)
            {
                throw new ArgumentException(
                    $"The {(channel is not null ? "channel" : "group")} name cannot be encoded: {e.Problem}.",
                    channel is not null ? nameof(channel) : nameof(group));
            }
            writer.Flush();

            int size = buffer.WrittenCount;
            if (size > maxSize)
                throw new MessageTooLargeException(
                    $"The encoded message is {size} bytes, more than the maximum message size of {maxSize} bytes; nothing was sent.");
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (buffer.Capacity <= MaxRetainedBufferSize)
            {
                buffer.ResetWrittenCount();
                t_buffer = buffer;
            }
        }
    }

    private static void WriteMessage(ref MessagePackWriter writer, IReadOnlyDictionary<string, object?> message)
    {
        int count = message.Count;
        writer.WriteMapHeader(count + 1);
        int written = 0;
        if (message is Dictionary<string, object?> dictionary)
        {
            // The common case, with Dictionary's struct enumerator (no allocation).
            foreach (var (key, value) in dictionary)
            {
                WriteTopLevelEntry(ref writer, key, value);
                written++;
            }
        }
        else
        {
            foreach (var (key, value) in message)
            {
                WriteTopLevelEntry(ref writer, key, value);
                written++;
            }
        }
        if (written != count)
            throw new EncodeError($"the message reported {count} entries but enumerated {written} (was it modified concurrently?)");
    }

    private static void WriteTopLevelEntry(ref MessagePackWriter writer, string key, object? value)
    {
        if (key is ChannelKey or GroupKey)
            throw new EncodeError("it is a reserved key: the layer adds \"__asgi_channel__\" or \"__asgi_group__\" itself").At(key);
        WriteEntry(ref writer, key, value, depth: 1);
    }

    private static void WriteEntry(ref MessagePackWriter writer, string? key, object? value, int depth)
    {
        try
        {
            if (key is null) throw new EncodeError("a map key is null");
            WriteString(ref writer, key);
            WriteValue(ref writer, value, depth);
        }
        catch (EncodeError e)
        {
            throw e.At(key);
        }
    }

    private static void WriteValue(ref MessagePackWriter writer, object? value, int depth)
    {
        // Most frequent types first: a type switch is a sequence of type checks.
        switch (value)
        {
            case null: writer.WriteNil(); return;
            case string s: WriteString(ref writer, s); return;
            case int i: writer.Write(i); return;
            case long l: writer.Write(l); return;
            case bool b: writer.Write(b); return;
            case double d: writer.Write(d); return;
            case byte[] bytes: writer.Write(bytes.AsSpan()); return;
            case float f: writer.Write(f); return;
            case uint u: writer.Write(u); return;
            case ulong ul: writer.Write(ul); return;
            case short sh: writer.Write(sh); return;
            case ushort us: writer.Write(us); return;
            case byte by: writer.Write(by); return;
            case sbyte sb: writer.Write(sb); return;
            case ReadOnlyMemory<byte> rom: writer.Write(rom.Span); return;
            case Memory<byte> mem: writer.Write(mem.Span); return;
            case ArraySegment<byte> segment: writer.Write(segment.AsSpan()); return; // before IEnumerable
            case IReadOnlyDictionary<string, object?> map: WriteMap(ref writer, map, map.Count, depth + 1); return;
            case IDictionary<string, object?> map: WriteMap(ref writer, map, map.Count, depth + 1); return;
            case IDictionary map: WriteMap(ref writer, map, depth + 1); return;
            case IEnumerable sequence: WriteArray(ref writer, sequence, depth + 1); return;
            default: throw new EncodeError(UnsupportedType(value.GetType()));
        }
    }

    // One body for IReadOnlyDictionary and IDictionary (neither derives from the other).
    private static void WriteMap(ref MessagePackWriter writer, IEnumerable<KeyValuePair<string, object?>> map, int count, int depth)
    {
        CheckDepth(depth);
        var written = 0;
        writer.WriteMapHeader(count);
        foreach (var (key, value) in map)
        {
            WriteEntry(ref writer, key, value, depth);
            written++;
        }
        CheckCount(count, written);
    }

    private static void WriteMap(ref MessagePackWriter writer, IDictionary map, int depth)
    {
        CheckDepth(depth);
        int count = map.Count, written = 0;
        writer.WriteMapHeader(count);
        var entries = map.GetEnumerator();
        while (entries.MoveNext())
        {
            if (entries.Key is not string key)
                throw new EncodeError(
                    $"a map key has type {entries.Key?.GetType().FullName ?? "null"}, but map keys must be strings");
            WriteEntry(ref writer, key, entries.Value, depth);
            written++;
        }
        CheckCount(count, written);
    }

    private static void WriteArray(ref MessagePackWriter writer, IEnumerable sequence, int depth)
    {
        CheckDepth(depth);
        if (sequence is not ICollection collection)
        {
            // A lazy sequence: enumerate it once, then it has a count.
            var items = new List<object?>();
            foreach (var item in sequence) items.Add(item);
            collection = items;
        }
        int count = collection.Count, written = 0;
        writer.WriteArrayHeader(count);
        foreach (var item in collection)
        {
            try
            {
                WriteValue(ref writer, item, depth);
            }
            catch (EncodeError e)
            {
                throw e.At(written);
            }
            written++;
        }
        CheckCount(count, written);
    }

    private static void WriteString(ref MessagePackWriter writer, string value)
    {
        int length;
        try
        {
            length = StrictUtf8.GetByteCount(value);
        }
        catch (EncoderFallbackException)
        {
            throw new EncodeError("a string holds a lone surrogate (invalid UTF-16), which has no UTF-8 encoding");
        }
        writer.WriteStringHeader(length);
        if (length == 0) return;
        var span = writer.GetSpan(length);
        StrictUtf8.GetBytes(value, span);
        writer.Advance(length);
    }

    private static void CheckDepth(int depth)
    {
        if (depth > MaxDepth)
            throw new EncodeError($"maps and lists are nested deeper than {MaxDepth} levels (is there a cycle?)");
    }

    private static void CheckCount(int count, int written)
    {
        if (written != count)
            throw new EncodeError($"a collection reported {count} items but enumerated {written} (was it modified concurrently?)");
    }

    private static string UnsupportedType(Type type) =>
        $"type {type.FullName} is not supported (a message value must be null, a string, a bool, an integer, "
        + "a float or double, bytes (byte[], Memory<byte>, ArraySegment<byte>), a list, or a map with string keys)";

    /// <summary>An encoding problem, unwound through the recursion to collect its key path.</summary>
    private sealed class EncodeError(string problem) : Exception(problem)
    {
        private const int MaxShownKeyLength = 60;

        // Innermost first: segments are appended while the stack unwinds.
        public List<string> Path { get; } = [];

        public string Problem { get; } = problem;

        public EncodeError At(string? key)
        {
            if (key is not null)
                Path.Add(key.Length <= MaxShownKeyLength ? $"[\"{key}\"]" : $"[\"{key[..MaxShownKeyLength]}…\"]");
            return this;
        }

        public EncodeError At(int index)
        {
            Path.Add($"[{index}]");
            return this;
        }

        public string DescribePath()
        {
            var builder = new StringBuilder();
            for (int i = Path.Count - 1; i >= 0; i--) builder.Append(Path[i]);
            return builder.ToString();
        }
    }

    // ---------------------------------------------------------------- decode

    // Boxes for the small integers that fill most messages (counters, codes, flags).
    private const int SmallIntMin = -128, SmallIntMax = 1023;
    private static readonly object[] SmallInts = CreateSmallInts();
    private static readonly object True = true, False = false;

    private static object[] CreateSmallInts()
    {
        var boxes = new object[SmallIntMax - SmallIntMin + 1];
        for (int i = 0; i < boxes.Length; i++) boxes[i] = (long)(i + SmallIntMin);
        return boxes;
    }

    /// <summary>Decodes a body received from the queue.</summary>
    /// <remarks>
    /// Values come back normalised, whatever width the sender chose: every integer as
    /// <c>long</c>, except a uint64 above <see cref="long.MaxValue"/>, which stays a
    /// <c>ulong</c> (it has no <c>long</c> value; Python sends such ints for 2**63 … 2**64-1);
    /// float32 and float64 as <c>double</c>; str as <c>string</c> (strict UTF-8); bin as
    /// <c>byte[]</c>; nil as <c>null</c>; arrays as <c>object?[]</c> (an
    /// <see cref="IReadOnlyList{T}"/>); maps as <see cref="IReadOnlyDictionary{TKey,TValue}"/> of
    /// string keys (a duplicate key keeps its last value, as Python's dict). The recipient key is
    /// removed from <see cref="DecodedMessage.Message"/>. Strings are never interned; short ASCII
    /// keys, <c>"type"</c> values and recipient names may be shared instances from a small cache.
    /// </remarks>
    /// <exception cref="MalformedMessageException">The body is not a map; a key is not a string;
    /// there is not exactly one string recipient; a string is not valid UTF-8; nesting is deeper
    /// than <see cref="MaxDepth"/>; the body is truncated or has trailing bytes; or it holds an
    /// extension type or an invalid code.</exception>
    public static DecodedMessage Decode(ReadOnlySpan<byte> body)
    {
        // MessagePackReader reads memory, not spans: copy into a pooled buffer. Safe to return
        // at once, since every decoded string and byte[] is a copy, never a slice of the body.
        var rented = ArrayPool<byte>.Shared.Rent(body.Length);
        try
        {
            body.CopyTo(rented);
            return Decode(new ReadOnlyMemory<byte>(rented, 0, body.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc cref="Decode(ReadOnlySpan{byte})"/>
    public static DecodedMessage Decode(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty) throw new MalformedMessageException("the body is empty.");
        var reader = new MessagePackReader(body);
        try
        {
            var type = reader.NextMessagePackType;
            if (type != MessagePackType.Map)
                throw new MalformedMessageException($"the top level is {Describe(type)}, not a map.");
            int count = reader.ReadMapHeader();
            var message = new Dictionary<string, object?>(Math.Min(Math.Max(count - 1, 0), MaxPresizedCount));
            string? channel = null, group = null;
            for (int i = 0; i < count; i++)
            {
                var key = ReadKeyUtf8(ref reader);
                if (key.SequenceEqual(ChannelKeyUtf8))
                    channel = ReadRecipient(ref reader, ChannelKey);
                else if (key.SequenceEqual(GroupKeyUtf8))
                    group = ReadRecipient(ref reader, GroupKey);
                else if (key.SequenceEqual("type"u8) && reader.NextMessagePackType == MessagePackType.String)
                    message["type"] = DecodeRecurringString(ReadStringUtf8(ref reader)); // handler names recur: cache them too
                else
                    message[DecodeRecurringString(key)] = ReadValue(ref reader, depth: 1);
            }
            if (!reader.End)
                throw new MalformedMessageException($"{reader.Sequence.Length - reader.Consumed} trailing bytes after the map.");
            if (channel is null && group is null)
                throw new MalformedMessageException($"it has neither \"{ChannelKey}\" nor \"{GroupKey}\".");
            if (channel is not null && group is not null)
                throw new MalformedMessageException($"it has both \"{ChannelKey}\" and \"{GroupKey}\".");
            return new DecodedMessage(message, channel, group);
        }
        catch (EndOfStreamException e)
        {
            throw new MalformedMessageException("it is truncated (or declares more elements than it holds).", e);
        }
        catch (MessagePackSerializationException e)
        {
            throw new MalformedMessageException(e.Message, e);
        }
        catch (DecoderFallbackException e)
        {
            throw new MalformedMessageException("a string is not valid UTF-8.", e);
        }
        catch (OverflowException e)
        {
            throw new MalformedMessageException("a length does not fit in 32 bits.", e);
        }
    }

    private static string ReadRecipient(ref MessagePackReader reader, string key)
    {
        var type = reader.NextMessagePackType;
        if (type != MessagePackType.String)
            throw new MalformedMessageException($"\"{key}\" is {Describe(type)}, not a string.");
        return DecodeRecurringString(ReadStringUtf8(ref reader));
    }

    private static ReadOnlySpan<byte> ReadKeyUtf8(ref MessagePackReader reader)
    {
        var type = reader.NextMessagePackType;
        if (type != MessagePackType.String)
            throw new MalformedMessageException($"a map key is {Describe(type)}, not a string.");
        return ReadStringUtf8(ref reader);
    }

    // The raw UTF-8 of a str token, a slice of the body (not yet validated).
    private static ReadOnlySpan<byte> ReadStringUtf8(ref MessagePackReader reader)
    {
        CheckLength32(ref reader);
        if (reader.TryReadStringSpan(out var span)) return span;
        // Only when the body is not contiguous, which a ReadOnlyMemory never is.
        var sequence = reader.ReadStringSequence();
        return sequence is { } s ? s.ToArray() : [];
    }

    // A tiny direct-mapped cache of the short ASCII strings that recur in nearly every body:
    // keys, "type" values, channel and group names. Without it each body would allocate the
    // same strings again. Shared and racy by design: a slot holds an immutable string, a hit
    // is verified byte for byte, and a lost update only costs a miss.
    private const int CacheSlots = 256, MaxCachedLength = 48;
    private static readonly string?[] RecentStrings = new string?[CacheSlots];

    private static string DecodeRecurringString(ReadOnlySpan<byte> utf8)
    {
        int length = utf8.Length;
        if (length == 0) return "";
        if (length > MaxCachedLength) return StrictUtf8.GetString(utf8);
        uint hash = (uint)length * 0x9E3779B1u ^ utf8[0] * 31u ^ utf8[length - 1] * 131u ^ utf8[length / 2] * 7919u;
        int slot = (int)((hash ^ (hash >> 8)) % CacheSlots);
        var cached = RecentStrings[slot];
        if (cached is not null && cached.Length == length && Ascii.Equals(utf8, cached)) return cached;
        var decoded = StrictUtf8.GetString(utf8);
        if (decoded.Length == length) RecentStrings[slot] = decoded; // as many chars as bytes: ASCII
        return decoded;
    }

    private static object? ReadValue(ref MessagePackReader reader, int depth)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.String:
                return StrictUtf8.GetString(ReadStringUtf8(ref reader));
            case MessagePackType.Integer:
                if (reader.NextCode == MessagePackCode.UInt64)
                {
                    ulong unsigned = reader.ReadUInt64();
                    return unsigned <= long.MaxValue ? Box((long)unsigned) : unsigned;
                }
                return Box(reader.ReadInt64());
            case MessagePackType.Nil:
                reader.ReadNil();
                return null;
            case MessagePackType.Boolean:
                return reader.ReadBoolean() ? True : False;
            case MessagePackType.Float:
                return reader.ReadDouble(); // float32 widens exactly
            case MessagePackType.Binary:
                CheckLength32(ref reader);
                return reader.ReadBytes() is { } bytes ? bytes.ToArray() : null;
            case MessagePackType.Map:
                return ReadMap(ref reader, depth + 1);
            case MessagePackType.Array:
                return ReadArray(ref reader, depth + 1);
            case MessagePackType.Extension:
                var header = reader.ReadExtensionFormatHeader();
                throw new MalformedMessageException($"it holds a msgpack extension (type {header.TypeCode}), which the layer does not accept.");
            default:
                throw new MalformedMessageException($"invalid msgpack code 0x{reader.NextCode:x2}.");
        }
    }

    private static Dictionary<string, object?> ReadMap(ref MessagePackReader reader, int depth)
    {
        CheckDecodeDepth(depth);
        int count = reader.ReadMapHeader();
        var map = new Dictionary<string, object?>(Math.Min(count, MaxPresizedCount));
        for (int i = 0; i < count; i++)
        {
            var key = DecodeRecurringString(ReadKeyUtf8(ref reader));
            map[key] = ReadValue(ref reader, depth);
        }
        return map;
    }

    private static object?[] ReadArray(ref MessagePackReader reader, int depth)
    {
        CheckDecodeDepth(depth);
        int count = reader.ReadArrayHeader();
        if (count == 0) return [];
        if (count <= MaxPresizedCount)
        {
            var items = new object?[count];
            for (int i = 0; i < items.Length; i++) items[i] = ReadValue(ref reader, depth);
            return items;
        }
        var list = new List<object?>(MaxPresizedCount);
        for (int i = 0; i < count; i++) list.Add(ReadValue(ref reader, depth));
        return list.ToArray();
    }

    // MessagePack-CSharp 2.5 casts a str32/bin32 length to int before checking it against the
    // bytes left, so a declared length of 2 GiB or more ends in an ArgumentOutOfRangeException
    // from deep inside it: check those two headers first.
    private static void CheckLength32(ref MessagePackReader reader)
    {
        byte code = reader.NextCode;
        if (code is not (MessagePackCode.Str32 or MessagePackCode.Bin32)) return;
        var unread = reader.Sequence.Slice(reader.Position);
        if (unread.Length < 5) return; // the reader reports the truncated header itself
        Span<byte> header = stackalloc byte[5];
        unread.Slice(0, 5).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > unread.Length - 5)
            throw new MalformedMessageException($"a {(code == MessagePackCode.Str32 ? "str" : "bin")} declares {length} bytes but only {unread.Length - 5} remain.");
    }

    private static void CheckDecodeDepth(int depth)
    {
        if (depth > MaxDepth)
            throw new MalformedMessageException($"maps and lists are nested deeper than {MaxDepth} levels.");
    }

    private static object Box(long value) =>
        value is >= SmallIntMin and <= SmallIntMax ? SmallInts[value - SmallIntMin] : value;

    private static string Describe(MessagePackType type) => type switch
    {
        MessagePackType.Integer => "an integer",
        MessagePackType.Nil => "nil",
        MessagePackType.Boolean => "a boolean",
        MessagePackType.Float => "a float",
        MessagePackType.String => "a string",
        MessagePackType.Binary => "binary",
        MessagePackType.Array => "an array",
        MessagePackType.Map => "a map",
        MessagePackType.Extension => "an extension",
        _ => "an invalid code",
    };
}
