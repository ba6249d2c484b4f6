using System.Collections;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Reflection;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka;

/// <summary>Message maps (as decoded from the wire, or built by hand) to CLR types (<see cref="ChannelMessage.To{T}"/>).</summary>
internal static class MessageReader
{
    private const int MaxShownStringLength = 40;

    /// <exception cref="ChannelMessageFormatException">The message does not fit <typeparamref name="T"/>.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> cannot be read from a message map.</exception>
    public static T ReadMessage<T>(IReadOnlyDictionary<string, object?> message)
    {
        var type = typeof(T);
        var model = TypeModel.For(type);
        try
        {
            switch (model.Kind)
            {
                case ValueKind.Record:
                    var shape = model.Shape!;
                    if ((shape.DefinitionError ?? shape.MessageError ?? shape.ReadError) is { } problem)
                        throw new ArgumentException($"{TypeNames.Describe(type)} cannot be read from a channel message: {problem}.");
                    CheckMessageType(message, shape);
                    return (T)ReadRecord(message, shape, depth: 1);
                case ValueKind.Map when model.ReadProblem is null:
                    return (T)ReadMap(message, model, depth: 1);
                case ValueKind.Object:
                    return (T)(object)message;
                default:
                    throw new ArgumentException(
                        $"{TypeNames.Describe(type)} cannot be read from a channel message, which is a map: "
                        + "read a record (or class, or struct), or a dictionary with string keys.");
            }
        }
        catch (MappingError e) when (e.IsFormat)
        {
            throw new ChannelMessageFormatException(
                $"Cannot read {TypeNames.Describe(type)} from the channel message: message{e.DescribePath()} {e.Problem}.",
                e.Key,
                e.DescribePath(),
                e.DeclaringType ?? type,
                message,
                e.InnerException);
        }
        catch (MappingError e)
        {
            throw new ArgumentException($"{TypeNames.Describe(type)} cannot be read from a channel message: at message{e.DescribePath()}, {e.Problem}.");
        }
    }

    private static void CheckMessageType(IReadOnlyDictionary<string, object?> message, RecordShape shape)
    {
        message.TryGetValue(ChannelMessage.TypeKey, out var actual);
        if (actual is string name && name == shape.TypeName) return;
        string problem = actual is null && !message.ContainsKey(ChannelMessage.TypeKey)
            ? $"is missing, but {TypeNames.Describe(shape.Type)} messages have the type \"{shape.TypeName}\""
            : $"is {DescribeValue(actual)}, but {TypeNames.Describe(shape.Type)} messages have the type \"{shape.TypeName}\"";
        throw MappingError.Format(problem).At(ChannelMessage.TypeKey).In(shape.Type);
    }

    private static object ReadRecord(IReadOnlyDictionary<string, object?> map, RecordShape shape, int depth)
    {
        if ((shape.DefinitionError ?? shape.ReadError) is { } problem)
            throw MappingError.Unsupported($"{TypeNames.Describe(shape.Type)} cannot be created: {problem}");
        var parameters = shape.Parameters;
        var arguments = parameters.Length == 0 ? [] : new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (parameter.Key is null)
                arguments[i] = parameter.Default; // its property is [JsonIgnore]d
            else if (map.TryGetValue(parameter.Key, out var value))
                arguments[i] = ReadMember(value, parameter.Type, parameter.AllowsNull, parameter.Key, shape, parameter.Name, depth);
            else if (parameter.HasDefault)
                arguments[i] = parameter.Default;
            else if (parameter.AllowsNull)
                arguments[i] = null;
            else
                throw MappingError.Format(
                    $"is missing, but {TypeNames.Describe(shape.Type)} requires it (constructor parameter {parameter.Name} "
                    + $"of type {TypeNames.Describe(parameter.Type)} is neither nullable nor optional)").At(parameter.Key).In(shape.Type);
        }

        object instance;
        try
        {
            instance = shape.Construct!(arguments);
        }
        catch (Exception e) when (e is not MappingError)
        {
            throw Rejected(shape, "constructor", e);
        }

        foreach (var setter in shape.Setters)
        {
            if (map.TryGetValue(setter.Key, out var value))
            {
                var converted = ReadMember(value, setter.Type, setter.AllowsNull, setter.Key, shape, setter.Property.Name, depth);
                try
                {
                    setter.Set!(instance, converted);
                }
                catch (Exception e) when (e is not MappingError)
                {
                    throw Rejected(shape, $"property {setter.Property.Name}", e).At(setter.Key);
                }
            }
            else if (setter.Required)
            {
                throw MappingError.Format($"is missing, but {TypeNames.Describe(shape.Type)} requires it (property {setter.Property.Name} is required)")
                    .At(setter.Key).In(shape.Type);
            }
        }
        return instance;
    }

    private static MappingError Rejected(RecordShape shape, string what, Exception e)
    {
        if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        return MappingError.Format($"could not be turned into {TypeNames.Describe(shape.Type)}: its {what} threw {e.GetType().Name}: {e.Message}", e)
            .In(shape.Type);
    }

    private static object? ReadMember(object? value, Type type, bool allowsNull, string key, RecordShape shape, string memberName, int depth)
    {
        try
        {
            if (value is null)
            {
                if (allowsNull) return null;
                throw MappingError.Format($"is null, but {TypeNames.Describe(shape.Type)}.{memberName} ({TypeNames.Describe(type)}) is not nullable");
            }
            return ReadValue(value, type, depth + 1);
        }
        catch (MappingError e)
        {
            throw e.At(key).In(shape.Type);
        }
    }

    /// <summary>One value as <paramref name="target"/>; <paramref name="depth"/> is its own level if it is a map or list.</summary>
    private static object? ReadValue(object? value, Type target, int depth)
    {
        var model = TypeModel.For(target);
        if (value is null)
        {
            if (!target.IsValueType || model.Kind == ValueKind.Nullable) return null;
            throw MappingError.Format($"is null, but {TypeNames.Describe(target)} is not nullable");
        }
        switch (model.Kind)
        {
            case ValueKind.Object:
                return value;
            case ValueKind.String:
                return value as string ?? throw Expected("a string", target, value);
            case ValueKind.Char:
                return value is string { Length: 1 } c ? c[0] : throw Expected("a string of one character", target, value);
            case ValueKind.Bool:
                return value is bool ? value : throw Expected("a bool", target, value);
            case ValueKind.Integer:
                return ReadInteger(value, model.IntegerCode, target);
            case ValueKind.Single:
                double wide = ReadDouble(value, target);
                float narrow = (float)wide;
                if (float.IsInfinity(narrow) && !double.IsInfinity(wide))
                    throw MappingError.Format($"is {DescribeValue(value)}, out of range for float", new OverflowException());
                return narrow;
            case ValueKind.Double:
                return ReadDouble(value, target);
            case ValueKind.Decimal:
                return ReadDecimal(value, target);
            case ValueKind.Enum:
                return ReadEnum(value, model, target);
            case ValueKind.Guid:
                return value is string g && Guid.TryParse(g, out var guid) ? guid : throw Expected("a GUID string", target, value);
            case ValueKind.DateTime:
                return value is string dt && LooksLikeIsoDate(dt)
                    && DateTime.TryParse(dt, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var dateTime)
                    ? dateTime
                    : throw Expected("an ISO 8601 date-time string", target, value);
            case ValueKind.DateTimeOffset:
                return value is string dto && LooksLikeIsoDate(dto)
                    && DateTimeOffset.TryParse(dto, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var offset)
                    ? offset
                    : throw Expected("an ISO 8601 date-time string", target, value);
            case ValueKind.DateOnly:
                return value is string d && DateOnly.TryParseExact(d, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                    ? date
                    : throw Expected("an ISO 8601 date string (yyyy-MM-dd)", target, value);
            case ValueKind.TimeOnly:
                return value is string t && TimeOnly.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
                    ? time
                    : throw Expected("an ISO 8601 time string", target, value);
            case ValueKind.TimeSpan:
                return ReadTimeSpan(value, target);
            case ValueKind.Bytes:
                return AsBytes(value) ?? throw Expected("bytes", target, value);
            case ValueKind.OtherBytes:
                var bytes = AsBytes(value) ?? throw Expected("bytes", target, value);
                if (target == typeof(Memory<byte>)) return new Memory<byte>(bytes);
                if (target == typeof(ArraySegment<byte>)) return new ArraySegment<byte>(bytes);
                return new ReadOnlyMemory<byte>(bytes);
            case ValueKind.Nullable:
                return ReadValue(value, model.ElementType!, depth);
            case ValueKind.Sequence:
                return ReadSequence(value, model, depth);
            case ValueKind.Map:
                return ReadMap(value, model, depth);
            case ValueKind.Record:
                CheckDepth(depth);
                return ReadRecord(AsMap(value) ?? throw Expected("a map", target, value), model.Shape!, depth);
            default:
                throw MappingError.Unsupported(model.ReadProblem ?? $"type {TypeNames.Describe(target)} is not supported");
        }
    }

    private static object ReadInteger(object value, TypeCode code, Type target)
    {
        long signed = 0;
        ulong unsigned = 0;
        bool beyondLong = false;
        switch (value)
        {
            case long l: signed = l; break;
            case int i: signed = i; break;
            case short s: signed = s; break;
            case sbyte sb: signed = sb; break;
            case byte b: signed = b; break;
            case ushort us: signed = us; break;
            case uint ui: signed = ui; break;
            case ulong ul when ul <= long.MaxValue: signed = (long)ul; break;
            case ulong ul: unsigned = ul; beyondLong = true; break;
            default: throw Expected("an integer", target, value);
        }
        try
        {
            if (beyondLong)
                return code == TypeCode.UInt64 ? unsigned : throw new OverflowException();
            return code switch
            {
                TypeCode.SByte => checked((sbyte)signed),
                TypeCode.Byte => checked((byte)signed),
                TypeCode.Int16 => checked((short)signed),
                TypeCode.UInt16 => checked((ushort)signed),
                TypeCode.Int32 => checked((int)signed),
                TypeCode.UInt32 => checked((uint)signed),
                TypeCode.Int64 => signed,
                _ => (object)checked((ulong)signed),
            };
        }
        catch (OverflowException e)
        {
            throw MappingError.Format($"is {DescribeValue(value)}, out of range for {TypeNames.Describe(target)}", e);
        }
    }

    private static double ReadDouble(object value, Type target) => value switch
    {
        double d => d,
        float f => f,
        long l => l,
        int i => i,
        ulong ul => ul,
        uint ui => ui,
        short s => s,
        ushort us => us,
        sbyte sb => sb,
        byte b => b,
        decimal m => (double)m,
        _ => throw Expected("a number", target, value),
    };

    private static decimal ReadDecimal(object value, Type target)
    {
        try
        {
            return value switch
            {
                decimal m => m,
                double d => (decimal)d,
                float f => (decimal)f,
                long l => l,
                ulong ul => ul,
                int or short or sbyte or byte or ushort or uint => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
                _ => throw Expected("a number", target, value),
            };
        }
        catch (OverflowException e)
        {
            throw MappingError.Format($"is {DescribeValue(value)}, out of range for decimal", e);
        }
    }

    private static object ReadEnum(object value, TypeModel model, Type target)
    {
        if (value is string name)
        {
            // Names as sent by ChannelMessage.From (ignoring case, for peers that lower-case them);
            // a comma-separated list for [Flags]; a number in a string is taken too, as Enum.Parse does.
            return Enum.TryParse(target, name, ignoreCase: true, out var parsed)
                ? parsed!
                : throw Expected($"one of its names ({string.Join(", ", Enum.GetNames(target))})", target, value);
        }
        return Enum.ToObject(target, ReadInteger(value, model.IntegerCode, model.ElementType!));
    }

    private static TimeSpan ReadTimeSpan(object value, Type target)
    {
        double seconds = ReadDouble(value, target);
        double ticks = Math.Round(seconds * TimeSpan.TicksPerSecond);
        if (double.IsNaN(ticks) || ticks < long.MinValue || ticks >= long.MaxValue)
            throw MappingError.Format($"is {DescribeValue(value)}, out of range for TimeSpan (seconds)", new OverflowException());
        return TimeSpan.FromTicks((long)ticks);
    }

    private static byte[]? AsBytes(object value) => value switch
    {
        byte[] bytes => bytes,
        ReadOnlyMemory<byte> memory => memory.ToArray(),
        Memory<byte> memory => memory.ToArray(),
        ArraySegment<byte> segment => segment.ToArray(),
        _ => null,
    };

    private static IReadOnlyDictionary<string, object?>? AsMap(object value) => value switch
    {
        IReadOnlyDictionary<string, object?> map => map,
        IDictionary<string, object?> map => new ReadOnlyDictionary<string, object?>(map),
        _ => null,
    };

    private static object ReadSequence(object value, TypeModel model, int depth)
    {
        if (model.ReadProblem is { } problem) throw MappingError.Unsupported(problem);
        if (value is string or byte[] or IDictionary or IReadOnlyDictionary<string, object?> || value is not IEnumerable sequence)
            throw Expected("a list", model.Type, value);
        CheckDepth(depth);
        if (model.ReadPassesThrough && model.Type.IsInstanceOfType(value)) return value;

        var items = sequence as ICollection ?? sequence.Cast<object?>().ToList();
        var elementType = model.ElementType!;
        if (model.Type.IsArray)
        {
            var array = Array.CreateInstance(elementType, items.Count);
            int i = 0;
            foreach (var item in items)
            {
                if (i == array.Length) throw MappingError.Format("changed while it was read");
                array.SetValue(ReadItem(item, elementType, i, depth), i);
                i++;
            }
            return array;
        }
        var list = model.ListFactory!(items.Count);
        foreach (var item in items) list.Add(ReadItem(item, elementType, list.Count, depth));
        return list;

        static object? ReadItem(object? item, Type elementType, int index, int depth)
        {
            try
            {
                return ReadValue(item, elementType, depth + 1);
            }
            catch (MappingError e)
            {
                throw e.At(index);
            }
        }
    }

    private static object ReadMap(object value, TypeModel model, int depth)
    {
        if (model.ReadProblem is { } problem) throw MappingError.Unsupported(problem);
        CheckDepth(depth);
        var valueType = model.ElementType!;
        switch (value)
        {
            case IReadOnlyDictionary<string, object?> map:
                if (model.ReadPassesThrough) return map;
                var result = model.MapFactory!(map.Count);
                foreach (var (key, item) in map) Add(result, key, item, valueType, depth);
                return result;
            case IDictionary<string, object?> map:
                result = model.MapFactory!(map.Count);
                foreach (var (key, item) in map) Add(result, key, item, valueType, depth);
                return result;
            case IDictionary map:
                result = model.MapFactory!(map.Count);
                var entries = map.GetEnumerator();
                while (entries.MoveNext())
                {
                    if (entries.Key is not string key) throw MappingError.Format("is a map with a key that is not a string");
                    Add(result, key, entries.Value, valueType, depth);
                }
                return result;
            default:
                throw Expected("a map", model.Type, value);
        }

        static void Add(IDictionary result, string key, object? item, Type valueType, int depth)
        {
            try
            {
                result[key] = ReadValue(item, valueType, depth + 1);
            }
            catch (MappingError e)
            {
                throw e.At(key);
            }
        }
    }

    private static bool LooksLikeIsoDate(string s) =>
        s.Length >= 10 && char.IsAsciiDigit(s[0]) && char.IsAsciiDigit(s[1]) && char.IsAsciiDigit(s[2]) && char.IsAsciiDigit(s[3])
        && s[4] == '-' && s[7] == '-';

    private static void CheckDepth(int depth)
    {
        if (depth > WireCodec.MaxDepth)
            throw MappingError.Format($"nests maps and lists deeper than {WireCodec.MaxDepth} levels");
    }

    private static MappingError Expected(string what, Type target, object? value) =>
        MappingError.Format($"is {DescribeValue(value)}, but {TypeNames.Describe(target)} needs {what}");

    private static string DescribeValue(object? value) => value switch
    {
        null => "null",
        string s => s.Length <= MaxShownStringLength ? $"the string \"{s}\"" : $"the string \"{s[..MaxShownStringLength]}…\"",
        bool b => b ? "true" : "false",
        long or int or short or sbyte or byte or ushort or uint or ulong => $"the integer {value}",
        double or float or decimal => $"the number {Convert.ToString(value, CultureInfo.InvariantCulture)}",
        byte[] or ReadOnlyMemory<byte> or Memory<byte> or ArraySegment<byte> => "bytes",
        IDictionary or IReadOnlyDictionary<string, object?> or IDictionary<string, object?> => "a map",
        IEnumerable => "a list",
        _ => $"a value of type {TypeNames.Describe(value.GetType())}",
    };
}
