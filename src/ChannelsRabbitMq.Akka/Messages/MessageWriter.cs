using System.Collections;
using System.Globalization;
using System.Text.Json.Serialization;
using ChannelsRabbitMq.Akka.Wire;

namespace ChannelsRabbitMq.Akka;

/// <summary>CLR values to the wire's value types (<see cref="ChannelMessage.From{T}"/>).</summary>
internal static class MessageWriter
{
    /// <summary>Maps a record (with its <c>"type"</c>) or a string-keyed dictionary to a message map.</summary>
    /// <exception cref="ArgumentException">The value's type cannot be a message, or holds a value that cannot be mapped.</exception>
    public static Dictionary<string, object?> WriteMessage(object value, string parameterName)
    {
        var type = value.GetType();
        var model = TypeModel.For(type);
        try
        {
            switch (model.Kind)
            {
                case ValueKind.Record:
                    var shape = model.Shape!;
                    if ((shape.DefinitionError ?? shape.MessageError) is { } problem)
                        throw new ArgumentException($"{TypeNames.Describe(type)} cannot be a channel message: {problem}.", parameterName);
                    var message = new Dictionary<string, object?>(shape.WriteMembers.Length + 1) { [ChannelMessage.TypeKey] = shape.TypeName };
                    WriteMembers(message, value, shape, depth: 1);
                    return message;
                case ValueKind.Map when model.WriteProblem is null:
                    return WriteMap(value, depth: 1);
                case ValueKind.Sequence:
                    throw new ArgumentException(
                        $"{TypeNames.Describe(type)} is a sequence, but a channel message is a map: send a record, or a dictionary with string keys.",
                        parameterName);
                default:
                    throw new ArgumentException(
                        model.WriteProblem is { } unsupported && model.Kind is ValueKind.Unsupported or ValueKind.Map
                            ? $"{TypeNames.Describe(type)} cannot be a channel message: {unsupported}."
                            : $"{TypeNames.Describe(type)} is a single value, but a channel message is a map: send a record, or a dictionary with string keys.",
                        parameterName);
            }
        }
        catch (MappingError e)
        {
            throw new ArgumentException($"{TypeNames.Describe(type)} cannot be sent as a channel message: at message{e.DescribePath()}, {e.Problem}.", parameterName);
        }
    }

    private static void WriteMembers(Dictionary<string, object?> map, object instance, RecordShape shape, int depth)
    {
        foreach (var member in shape.WriteMembers)
        {
            object? value = member.Get(instance);
            if (member.Condition == JsonIgnoreCondition.WhenWritingNull && value is null) continue;
            if (member.Condition == JsonIgnoreCondition.WhenWritingDefault && member.IsDefault(value)) continue;
            try
            {
                map[member.Key] = WriteValue(value, depth);
            }
            catch (MappingError e)
            {
                throw e.At(member.Key);
            }
        }
    }

    /// <summary>One value; <paramref name="depth"/> is that of the map or list holding it.</summary>
    private static object? WriteValue(object? value, int depth)
    {
        // The wire's own types first, without a cache lookup.
        switch (value)
        {
            case null: return null;
            case string: return value;
            case int: return value;
            case long: return value;
            case bool: return value;
            case double: return value;
            case byte[]: return value;
        }
        var model = TypeModel.For(value.GetType());
        switch (model.Kind)
        {
            case ValueKind.Integer or ValueKind.Single or ValueKind.OtherBytes:
                return value;
            case ValueKind.Char: return ((char)value).ToString();
            case ValueKind.Decimal: return (double)(decimal)value;
            case ValueKind.Enum: return value.ToString();
            case ValueKind.Guid: return ((Guid)value).ToString("D");
            case ValueKind.DateTime: return ((DateTime)value).ToString("O", CultureInfo.InvariantCulture);
            case ValueKind.DateTimeOffset: return ((DateTimeOffset)value).ToString("O", CultureInfo.InvariantCulture);
            case ValueKind.DateOnly: return ((DateOnly)value).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            case ValueKind.TimeOnly: return ((TimeOnly)value).ToString("O", CultureInfo.InvariantCulture);
            case ValueKind.TimeSpan: return ((TimeSpan)value).Ticks / (double)TimeSpan.TicksPerSecond;
            case ValueKind.Record:
                var shape = model.Shape!;
                if (shape.DefinitionError is { } problem) throw MappingError.Unsupported($"{TypeNames.Describe(value.GetType())} cannot be mapped: {problem}");
                CheckDepth(depth + 1);
                var map = new Dictionary<string, object?>(shape.WriteMembers.Length);
                WriteMembers(map, value, shape, depth + 1);
                return map;
            case ValueKind.Map when model.WriteProblem is null:
                return WriteMap(value, depth + 1);
            case ValueKind.Sequence:
                return WriteSequence((IEnumerable)value, depth + 1);
            default:
                throw MappingError.Unsupported(model.WriteProblem ?? $"type {TypeNames.Describe(value.GetType())} is not supported");
        }
    }

    private static Dictionary<string, object?> WriteMap(object value, int depth)
    {
        CheckDepth(depth);
        switch (value)
        {
            case IReadOnlyDictionary<string, object?> readOnly:
                var copy = new Dictionary<string, object?>(readOnly.Count);
                foreach (var (key, item) in readOnly) Add(copy, key, item, depth);
                return copy;
            case IDictionary<string, object?> generic:
                copy = new Dictionary<string, object?>(generic.Count);
                foreach (var (key, item) in generic) Add(copy, key, item, depth);
                return copy;
            default:
                var dictionary = (IDictionary)value;
                copy = new Dictionary<string, object?>(dictionary.Count);
                var entries = dictionary.GetEnumerator();
                while (entries.MoveNext())
                {
                    if (entries.Key is not string key)
                        throw MappingError.Unsupported($"a map key has type {(entries.Key is null ? "null" : TypeNames.Describe(entries.Key.GetType()))}, but map keys must be strings");
                    Add(copy, key, entries.Value, depth);
                }
                return copy;
        }

        static void Add(Dictionary<string, object?> copy, string? key, object? item, int depth)
        {
            if (key is null) throw MappingError.Unsupported("a map key is null");
            try
            {
                copy[key] = WriteValue(item, depth);
            }
            catch (MappingError e)
            {
                throw e.At(key);
            }
        }
    }

    private static object?[] WriteSequence(IEnumerable sequence, int depth)
    {
        CheckDepth(depth);
        if (sequence is ICollection collection)
        {
            var items = new object?[collection.Count];
            int i = 0;
            foreach (var item in collection)
            {
                if (i == items.Length) throw MappingError.Unsupported("the collection changed while it was read");
                items[i] = WriteItem(item, i, depth);
                i++;
            }
            if (i != items.Length) throw MappingError.Unsupported("the collection changed while it was read");
            return items;
        }
        var list = new List<object?>();
        foreach (var item in sequence) list.Add(WriteItem(item, list.Count, depth));
        return list.ToArray();

        static object? WriteItem(object? item, int index, int depth)
        {
            try
            {
                return WriteValue(item, depth);
            }
            catch (MappingError e)
            {
                throw e.At(index);
            }
        }
    }

    private static void CheckDepth(int depth)
    {
        if (depth > WireCodec.MaxDepth)
            throw MappingError.Unsupported($"maps and lists are nested deeper than {WireCodec.MaxDepth} levels (is there a cycle?)");
    }
}
