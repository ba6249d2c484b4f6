using System.Collections;
using System.Collections.Concurrent;
using System.Linq.Expressions;

namespace ChannelsRabbitMq.Akka;

/// <summary>How a CLR type maps to and from the wire's value types.</summary>
internal enum ValueKind
{
    /// <summary><see cref="object"/>: read as whatever the wire holds; never a runtime type to write.</summary>
    Object,
    String,
    Char,
    Bool,
    Integer,
    Single,
    Double,
    Decimal,
    Enum,
    Guid,
    DateTime,
    DateTimeOffset,
    DateOnly,
    TimeOnly,
    TimeSpan,

    /// <summary><c>byte[]</c>: msgpack bin.</summary>
    Bytes,

    /// <summary><c>ReadOnlyMemory&lt;byte&gt;</c>, <c>Memory&lt;byte&gt;</c>, <c>ArraySegment&lt;byte&gt;</c>: bin, passed as is.</summary>
    OtherBytes,
    Nullable,

    /// <summary>A list: <c>T[]</c>, <c>List&lt;T&gt;</c> and its interfaces, or (written only) any other sequence.</summary>
    Sequence,

    /// <summary>A map with string keys.</summary>
    Map,

    /// <summary>A record, class or struct mapped by its public properties.</summary>
    Record,
    Unsupported,
}

/// <summary>
/// What the mappers need to know about one CLR type, computed once per type and cached
/// (<see cref="For"/>). Nothing here refers to another type's model, so building one never
/// recurses (a record may contain itself).
/// </summary>
internal sealed class TypeModel
{
    private static readonly ConcurrentDictionary<Type, TypeModel> Cache = new();

    // Needed by ConcurrentDictionary.GetOrAdd without allocating a closure.
    private static readonly Func<Type, TypeModel> Create = type => new TypeModel(type);

    private TypeModel(Type type)
    {
        Type = type;
        Kind = Classify(type, out var elementType, out var problem);
        ElementType = elementType;
        if (Kind == ValueKind.Integer) IntegerCode = Type.GetTypeCode(type);
        if (Kind == ValueKind.Enum)
        {
            ElementType = Enum.GetUnderlyingType(type);
            IntegerCode = Type.GetTypeCode(ElementType);
        }
        switch (Kind)
        {
            case ValueKind.Sequence:
                ReadProblem = problem; // set when this collection type cannot be created
                if (problem is null && !type.IsArray) ListFactory = CompileFactory<IList>(typeof(List<>).MakeGenericType(ElementType!));
                // An object?[] as decoded from the wire is kept when the target is a read-only view of it.
                ReadPassesThrough = ElementType == typeof(object) && type.IsInterface && type.IsGenericType && !typeof(IList).IsAssignableFrom(type)
                    && type.GetGenericTypeDefinition() is var definition
                    && (definition == typeof(IEnumerable<>) || definition == typeof(IReadOnlyList<>) || definition == typeof(IReadOnlyCollection<>));
                break;
            case ValueKind.Map:
                ReadProblem = problem;
                if (problem is null) MapFactory = CompileFactory<IDictionary>(typeof(Dictionary<,>).MakeGenericType(typeof(string), ElementType!));
                ReadPassesThrough = type == typeof(IReadOnlyDictionary<string, object>);
                break;
            case ValueKind.Record:
                Shape = new RecordShape(type);
                break;
            case ValueKind.Unsupported:
                ReadProblem = WriteProblem = problem;
                break;
            case ValueKind.Object:
                WriteProblem = UnsupportedValue(type);
                break;
        }
    }

    public Type Type { get; }

    public ValueKind Kind { get; }

    /// <summary>Integer and enum kinds: the <see cref="TypeCode"/> of the (underlying) integer type.</summary>
    public TypeCode IntegerCode { get; }

    /// <summary>Nullable: the underlying type; Sequence: the element type; Map: the value type; Enum: the underlying type.</summary>
    public Type? ElementType { get; }

    /// <summary>Sequence (not array): creates the <c>List&lt;T&gt;</c> to fill, given a capacity.</summary>
    public Func<int, IList>? ListFactory { get; }

    /// <summary>Map: creates the <c>Dictionary&lt;string, T&gt;</c> to fill, given a capacity.</summary>
    public Func<int, IDictionary>? MapFactory { get; }

    /// <summary>Sequence and Map: a source of the requested type needs no conversion of its items.</summary>
    public bool ReadPassesThrough { get; }

    /// <summary>Why a value of this type cannot be read (the type cannot be created), or null.</summary>
    public string? ReadProblem { get; }

    /// <summary>Why a value of this runtime type cannot be written, or null.</summary>
    public string? WriteProblem { get; }

    public RecordShape? Shape { get; }

    public static TypeModel For(Type type) => Cache.GetOrAdd(type, Create);

    private static ValueKind Classify(Type type, out Type? elementType, out string? problem)
    {
        elementType = null;
        problem = null;
        if (type == typeof(object)) return ValueKind.Object;
        if (type == typeof(string)) return ValueKind.String;
        if (type.IsEnum) return ValueKind.Enum;
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Boolean: return ValueKind.Bool;
            case TypeCode.Char: return ValueKind.Char;
            case TypeCode.SByte or TypeCode.Byte or TypeCode.Int16 or TypeCode.UInt16
                or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64:
                return ValueKind.Integer;
            case TypeCode.Single: return ValueKind.Single;
            case TypeCode.Double: return ValueKind.Double;
            case TypeCode.Decimal: return ValueKind.Decimal;
            case TypeCode.DateTime: return ValueKind.DateTime;
        }
        if (type == typeof(Guid)) return ValueKind.Guid;
        if (type == typeof(DateTimeOffset)) return ValueKind.DateTimeOffset;
        if (type == typeof(DateOnly)) return ValueKind.DateOnly;
        if (type == typeof(TimeOnly)) return ValueKind.TimeOnly;
        if (type == typeof(TimeSpan)) return ValueKind.TimeSpan;
        if (type == typeof(byte[])) return ValueKind.Bytes;
        if (type == typeof(ReadOnlyMemory<byte>) || type == typeof(Memory<byte>) || type == typeof(ArraySegment<byte>))
            return ValueKind.OtherBytes;
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            elementType = underlying;
            return ValueKind.Nullable;
        }
        if (type.IsPointer || type.IsByRef || type.IsByRefLike || type.IsGenericTypeDefinition || type.IsGenericParameter)
        {
            problem = UnsupportedValue(type);
            return ValueKind.Unsupported;
        }

        if (FindDictionaryInterface(type) is { } dictionary)
        {
            var arguments = dictionary.GetGenericArguments();
            if (arguments[0] != typeof(string))
            {
                problem = $"{TypeNames.Describe(type)} has {TypeNames.Describe(arguments[0])} keys, but map keys must be strings";
                return ValueKind.Unsupported;
            }
            elementType = arguments[1];
            bool writable = typeof(IDictionary).IsAssignableFrom(type)
                || typeof(IReadOnlyDictionary<string, object>).IsAssignableFrom(type)
                || typeof(IDictionary<string, object>).IsAssignableFrom(type);
            if (!type.IsInterface && !writable)
            {
                // A concrete type enumerable only through its generic interface (rare).
                problem = $"{TypeNames.Describe(type)} is not supported: use Dictionary<string, T>";
                return ValueKind.Unsupported;
            }
            if (!IsCreatableMap(type))
                problem = $"{TypeNames.Describe(type)} cannot be created: use Dictionary<string, T>, IDictionary<string, T> or IReadOnlyDictionary<string, T>";
            return ValueKind.Map;
        }
        if (typeof(IDictionary).IsAssignableFrom(type))
        {
            // Non-generic (Hashtable, …): written when its keys turn out to be strings, never read.
            elementType = typeof(object);
            problem = $"{TypeNames.Describe(type)} cannot be created: use Dictionary<string, T> or IReadOnlyDictionary<string, T>";
            return ValueKind.Map;
        }
        if (typeof(IEnumerable).IsAssignableFrom(type))
        {
            if (type.IsArray)
            {
                elementType = type.GetElementType();
                if (type.GetArrayRank() != 1) problem = $"{TypeNames.Describe(type)} (a multi-dimensional array) cannot be created: use a jagged array or List<T>";
                return ValueKind.Sequence;
            }
            if (type.IsGenericType && type.GetGenericArguments() is [var element]
                && (type.GetGenericTypeDefinition() == typeof(List<>) || type.IsAssignableFrom(typeof(List<>).MakeGenericType(element))))
            {
                // List<T> and the interfaces it implements: IEnumerable<T>, IReadOnlyList<T>, IList<T>, …
                elementType = element;
                return ValueKind.Sequence;
            }
            elementType = typeof(object);
            problem = $"{TypeNames.Describe(type)} cannot be created: use T[], List<T> or IReadOnlyList<T>";
            return ValueKind.Sequence;
        }
        if (!IsRecordLike(type, out problem)) return ValueKind.Unsupported;
        return ValueKind.Record;
    }

    private static Type? FindDictionaryInterface(Type type)
    {
        if (IsDictionaryInterface(type)) return type;
        foreach (var implemented in type.GetInterfaces())
            if (IsDictionaryInterface(implemented)) return implemented;
        return null;

        static bool IsDictionaryInterface(Type t) =>
            t.IsGenericType && t.GetGenericTypeDefinition() is var definition
            && (definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>));
    }

    private static bool IsCreatableMap(Type type)
    {
        if (!type.IsGenericType) return false;
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>);
    }

    private static bool IsRecordLike(Type type, out string? problem)
    {
        problem = null;
        if (typeof(Delegate).IsAssignableFrom(type) || type.IsPrimitive
            || type.Namespace is { } ns && (ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal)))
        {
            problem = UnsupportedValue(type);
            return false;
        }
        return true;
    }

    private static string UnsupportedValue(Type type) =>
        $"type {TypeNames.Describe(type)} is not supported (a message value must be null, a string, a bool, a number, "
        + "an enum, a Guid, a date or time, bytes, a record, a list, or a map with string keys)";

    private static Func<int, T> CompileFactory<T>(Type concrete)
    {
        var capacity = Expression.Parameter(typeof(int), "capacity");
        var constructor = concrete.GetConstructor([typeof(int)])!;
        return Expression.Lambda<Func<int, T>>(Expression.Convert(Expression.New(constructor, capacity), typeof(T)), capacity).Compile();
    }
}

/// <summary>Short, C#-like type names for error messages (<c>int</c>, <c>List&lt;string&gt;</c>, <c>Author</c>).</summary>
internal static class TypeNames
{
    public static string Describe(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying) return Describe(underlying) + "?";
        if (type.IsEnum) return type.Name;
        if (type.Name.Contains("AnonymousType", StringComparison.Ordinal)) return "an anonymous type";
        if (type.IsArray) return Describe(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Boolean: return "bool";
            case TypeCode.Char: return "char";
            case TypeCode.SByte: return "sbyte";
            case TypeCode.Byte: return "byte";
            case TypeCode.Int16: return "short";
            case TypeCode.UInt16: return "ushort";
            case TypeCode.Int32: return "int";
            case TypeCode.UInt32: return "uint";
            case TypeCode.Int64: return "long";
            case TypeCode.UInt64: return "ulong";
            case TypeCode.Single: return "float";
            case TypeCode.Double: return "double";
            case TypeCode.Decimal: return "decimal";
            case TypeCode.String: return "string";
        }
        if (type == typeof(object)) return "object";
        if (!type.IsGenericType) return type.Name;
        var name = type.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return name + "<" + string.Join(", ", type.GetGenericArguments().Select(Describe)) + ">";
    }
}
