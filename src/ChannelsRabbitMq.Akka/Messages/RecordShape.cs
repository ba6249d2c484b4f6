using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A record, class or struct as a map: its keys, compiled property getters, and how to create
/// it (a constructor plus settable properties). Built once per type by <see cref="TypeModel"/>.
/// Problems are recorded, not thrown, and reported each time the shape is used.
/// </summary>
internal sealed class RecordShape
{
    public RecordShape(Type type)
    {
        Type = type;
        IsAnonymous = type.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false) && type.Name.Contains("AnonymousType", StringComparison.Ordinal);
        TypeName = type.GetCustomAttribute<ChannelMessageTypeAttribute>(inherit: false)?.Type
            ?? (IsAnonymous ? null : MessageNaming.ConventionalTypeName(type));
        if (IsAnonymous)
            MessageError = "it has no message type name: declare a record (with [ChannelMessageType] or a conventional name) or send a dictionary";

        var members = CollectMembers(type, out var ignoredNames);
        WriteMembers = members.Where(m => m.Property.GetMethod is { IsPublic: true }).ToArray();
        BuildReader(type, members, ignoredNames);
    }

    public Type Type { get; }

    public bool IsAnonymous { get; }

    /// <summary>The <c>"type"</c> value: the attribute's, or the naming convention's; null for an anonymous type.</summary>
    public string? TypeName { get; }

    /// <summary>Why the type cannot be mapped at all (e.g. two properties with the same key), or null.</summary>
    public string? DefinitionError { get; private set; }

    /// <summary>Why the type cannot be a whole message (e.g. a property keyed <c>"type"</c>), or null; nested use is fine.</summary>
    public string? MessageError { get; private set; }

    /// <summary>Why the type cannot be created from a map (e.g. no usable constructor), or null.</summary>
    public string? ReadError { get; private set; }

    /// <summary>The properties written, in declaration order.</summary>
    public MemberShape[] WriteMembers { get; }

    /// <summary>The constructor's parameters, in order.</summary>
    public ParameterShape[] Parameters { get; private set; } = [];

    /// <summary>The settable properties not set by the constructor.</summary>
    public MemberShape[] Setters { get; private set; } = [];

    /// <summary>Calls the constructor with the converted arguments (one per <see cref="Parameters"/>) and boxes the result.</summary>
    public Func<object?[], object>? Construct { get; private set; }

    private List<MemberShape> CollectMembers(Type type, out HashSet<string> ignoredNames)
    {
        ignoredNames = new HashSet<string>(StringComparer.Ordinal);
        // Most derived wins when a property hides an inherited one of the same name.
        var properties = new List<PropertyInfo>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length != 0) continue;
            int existing = properties.FindIndex(p => p.Name == property.Name);
            if (existing < 0) properties.Add(property);
            else if (property.DeclaringType!.IsSubclassOf(properties[existing].DeclaringType!)) properties[existing] = property;
        }

        var nullability = new NullabilityInfoContext();
        var members = new List<MemberShape>(properties.Count);
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in properties)
        {
            var ignore = property.GetCustomAttribute<JsonIgnoreAttribute>();
            if (ignore is { Condition: JsonIgnoreCondition.Always })
            {
                ignoredNames.Add(property.Name);
                continue;
            }
            var propertyType = property.PropertyType;
            if (propertyType.IsByRef || propertyType.IsByRefLike || propertyType.IsPointer)
            {
                DefinitionError ??= $"{TypeNames.Describe(type)}.{property.Name} has type {TypeNames.Describe(propertyType)}, which cannot be mapped: mark it [JsonIgnore]";
                continue;
            }
            string key = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? MessageNaming.KeyFor(property.Name);
            if (keys.TryGetValue(key, out var other))
            {
                DefinitionError ??= $"{TypeNames.Describe(type)}.{other} and {TypeNames.Describe(type)}.{property.Name} both map to the key \"{key}\": "
                    + "rename one, or give it [JsonPropertyName]";
                continue;
            }
            keys.Add(key, property.Name);
            if (key == ChannelMessage.TypeKey)
                MessageError ??= $"{TypeNames.Describe(type)}.{property.Name} maps to the key \"type\", which holds the message type name (\"{TypeName}\"): "
                    + "rename the property, give it another name with [JsonPropertyName], or mark it [JsonIgnore]";
            else if (key is Wire.WireCodec.ChannelKey or Wire.WireCodec.GroupKey)
                MessageError ??= $"{TypeNames.Describe(type)}.{property.Name} maps to the reserved key \"{key}\", which the channel layer sets itself";

            var condition = ignore?.Condition ?? JsonIgnoreCondition.Never;
            bool allowsNull = AllowsNull(propertyType, () => nullability.Create(property).WriteState);
            bool required = property.IsDefined(typeof(RequiredMemberAttribute), inherit: true) || property.IsDefined(typeof(JsonRequiredAttribute), inherit: true);
            members.Add(new MemberShape(property, key, condition, allowsNull, required));
        }
        return members;
    }

    private void BuildReader(Type type, List<MemberShape> members, HashSet<string> ignoredNames)
    {
        if (type.IsAbstract || type.IsInterface)
        {
            ReadError = $"{TypeNames.Describe(type)} is abstract: only a concrete type can be created";
            return;
        }
        var constructor = ChooseConstructor(type, out var problem);
        if (problem is not null)
        {
            ReadError = problem;
            return;
        }

        var nullability = new NullabilityInfoContext();
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        var parameters = constructor?.GetParameters() ?? [];
        var parameterShapes = new ParameterShape[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            var parameterType = parameter.ParameterType;
            if (parameterType.IsByRef || parameterType.IsPointer || parameterType.IsByRefLike || parameter.Name is null)
            {
                ReadError = $"the constructor of {TypeNames.Describe(type)} has a parameter {parameter.Name} of type {TypeNames.Describe(parameterType)}, which cannot be mapped";
                return;
            }
            // A parameter takes the key of the property it initialises (same name, or same name ignoring case).
            var member = members.Find(m => m.Property.Name == parameter.Name)
                ?? (members.Count(m => string.Equals(m.Property.Name, parameter.Name, StringComparison.OrdinalIgnoreCase)) == 1
                    ? members.Find(m => string.Equals(m.Property.Name, parameter.Name, StringComparison.OrdinalIgnoreCase))
                    : null);
            bool ignored = member is null && ignoredNames.Any(n => string.Equals(n, parameter.Name, StringComparison.OrdinalIgnoreCase));
            if (member is not null) consumed.Add(member.Property.Name);
            bool hasDefault = parameter.HasDefaultValue;
            parameterShapes[i] = new ParameterShape(
                parameter.Name,
                parameterType,
                ignored ? null : member?.Key ?? MessageNaming.KeyFor(parameter.Name),
                AllowsNull(parameterType, () => nullability.Create(parameter).WriteState),
                hasDefault || ignored,
                hasDefault ? DefaultValue(parameter) : ZeroValue(parameterType));
        }

        Parameters = parameterShapes;
        Setters = members
            .Where(m => !consumed.Contains(m.Property.Name) && m.Property.SetMethod is { IsPublic: true })
            .Select(m => m with { Set = CompileSetter(m.Property) })
            .ToArray();
        Construct = CompileConstructor(type, constructor, parameters);
    }

    // As System.Text.Json: [JsonConstructor]; else a class's public parameterless constructor, or
    // its only public constructor; a struct's only public constructor, or its default one.
    private static ConstructorInfo? ChooseConstructor(Type type, out string? problem)
    {
        problem = null;
        var constructors = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance);
        var marked = constructors.Where(c => c.IsDefined(typeof(JsonConstructorAttribute), inherit: false)).ToArray();
        if (marked.Length > 1)
        {
            problem = $"{TypeNames.Describe(type)} has several constructors marked [JsonConstructor]";
            return null;
        }
        if (marked.Length == 1) return marked[0];
        var parameterless = constructors.FirstOrDefault(c => c.GetParameters().Length == 0);
        if (type.IsValueType)
            return constructors.Length == 1 ? constructors[0] : parameterless; // null: the default constructor
        if (parameterless is not null) return parameterless;
        if (constructors.Length == 1) return constructors[0];
        problem = constructors.Length == 0
            ? $"{TypeNames.Describe(type)} has no public constructor"
            : $"{TypeNames.Describe(type)} has several public constructors and none without parameters: mark the one to use with [JsonConstructor]";
        return null;
    }

    private static bool AllowsNull(Type type, Func<NullabilityState> referenceState)
    {
        if (type.IsValueType) return Nullable.GetUnderlyingType(type) is not null;
        try
        {
            // Unknown (a nullable-oblivious assembly, or an unconstrained generic) allows null.
            return referenceState() != NullabilityState.NotNull;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
        {
            return true;
        }
    }

    private static object? DefaultValue(ParameterInfo parameter)
    {
        var type = parameter.ParameterType;
        object? value = parameter.DefaultValue;
        if (value is null || value == DBNull.Value || value == Missing.Value) return ZeroValue(type);
        var target = Nullable.GetUnderlyingType(type) ?? type;
        return target.IsEnum && value.GetType() != target ? Enum.ToObject(target, value) : value;
    }

    private static object? ZeroValue(Type type) =>
        type.IsValueType && Nullable.GetUnderlyingType(type) is null ? RuntimeHelpers.GetUninitializedObject(type) : null;

    private static Func<object?[], object> CompileConstructor(Type type, ConstructorInfo? constructor, ParameterInfo[] parameters)
    {
        var arguments = Expression.Parameter(typeof(object[]), "arguments");
        Expression creation = constructor is null
            ? Expression.New(type)
            : Expression.New(constructor, parameters.Select((p, i) =>
                (Expression)Expression.Convert(Expression.ArrayIndex(arguments, Expression.Constant(i)), p.ParameterType)));
        return Expression.Lambda<Func<object?[], object>>(Expression.Convert(creation, typeof(object)), arguments).Compile();
    }

    internal static Func<object, object?> CompileGetter(PropertyInfo property)
    {
        var instance = Expression.Parameter(typeof(object), "instance");
        var read = Expression.Property(Expression.Convert(instance, property.DeclaringType!), property);
        return Expression.Lambda<Func<object, object?>>(Expression.Convert(read, typeof(object)), instance).Compile();
    }

    private static Action<object, object?> CompileSetter(PropertyInfo property)
    {
        // A struct is set in its box, through reflection (a compiled cast would set a copy).
        if (property.DeclaringType!.IsValueType) return property.SetValue;
        var instance = Expression.Parameter(typeof(object), "instance");
        var value = Expression.Parameter(typeof(object), "value");
        var assign = Expression.Assign(
            Expression.Property(Expression.Convert(instance, property.DeclaringType), property),
            Expression.Convert(value, property.PropertyType));
        return Expression.Lambda<Action<object, object?>>(assign, instance, value).Compile();
    }
}

/// <summary>A mapped property: its key and how it is read, written and checked.</summary>
internal sealed record MemberShape(PropertyInfo Property, string Key, JsonIgnoreCondition Condition, bool AllowsNull, bool Required)
{
    private readonly object? _zero = Property.PropertyType.IsValueType ? RuntimeHelpers.GetUninitializedObject(Property.PropertyType) : null;
    private Func<object, object?>? _get;

    /// <summary>Reads the property from a boxed instance (compiled on first use).</summary>
    public Func<object, object?> Get => _get ?? LazyInitializer.EnsureInitialized(ref _get, () => RecordShape.CompileGetter(Property));

    /// <summary>Sets the property on a boxed instance; only on <see cref="RecordShape.Setters"/>.</summary>
    public Action<object, object?>? Set { get; init; }

    public Type Type => Property.PropertyType;

    /// <summary>Whether <paramref name="value"/> is the property type's default (for <see cref="JsonIgnoreCondition.WhenWritingDefault"/>).</summary>
    public bool IsDefault(object? value)
    {
        return value is null || value.Equals(_zero);
    }
}

/// <summary>A constructor parameter: the key it is read from (null when its property is ignored) and what a missing key gives.</summary>
internal sealed record ParameterShape(string Name, Type Type, string? Key, bool AllowsNull, bool HasDefault, object? Default);

/// <summary>The naming rules: snake_case keys and dotted type names.</summary>
internal static class MessageNaming
{
    /// <summary>A property or parameter name as a key: System.Text.Json's snake_case (<c>UserId</c> → <c>user_id</c>).</summary>
    public static string KeyFor(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    /// <summary>
    /// A type's conventional <c>"type"</c> value: its name (without a generic arity suffix) split into
    /// lower-case words as for keys, joined by <c>'.'</c> (<c>HTTPRequestReceived</c> → <c>http.request.received</c>).
    /// </summary>
    public static string ConventionalTypeName(Type type)
    {
        var name = type.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        var snake = KeyFor(name);
        var builder = new StringBuilder(snake.Length);
        foreach (char c in snake)
        {
            if (c == '_')
            {
                if (builder.Length > 0 && builder[^1] != '.') builder.Append('.');
            }
            else
            {
                builder.Append(c);
            }
        }
        if (builder.Length > 0 && builder[^1] == '.') builder.Length--;
        return builder.ToString();
    }
}
