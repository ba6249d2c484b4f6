using System.Text;

namespace ChannelsRabbitMq.Akka;

/// <summary>
/// A mapping problem, unwound through the recursion to collect its key path; the public entry
/// points turn it into <see cref="ChannelMessageFormatException"/> (the message does not fit the
/// type) or <see cref="ArgumentException"/> (the type or value cannot be mapped at all).
/// </summary>
internal sealed class MappingError : Exception
{
    private const int MaxShownKeyLength = 60;
    private const int MaxShownSegments = 10;

    // Innermost first: segments are appended while the stack unwinds.
    private readonly List<string> _path = [];

    private MappingError(bool isFormat, string problem, Exception? inner) : base(problem, inner)
    {
        IsFormat = isFormat;
        Problem = problem;
    }

    /// <summary><c>true</c>: the data does not fit the type; <c>false</c>: the type or value is not mappable.</summary>
    public bool IsFormat { get; }

    public string Problem { get; }

    /// <summary>The innermost map key on the path.</summary>
    public string? Key { get; private set; }

    /// <summary>The innermost record type on the path.</summary>
    public Type? DeclaringType { get; private set; }

    public static MappingError Format(string problem, Exception? inner = null) => new(isFormat: true, problem, inner);

    public static MappingError Unsupported(string problem) => new(isFormat: false, problem, null);

    public MappingError At(string key)
    {
        Key ??= key;
        _path.Add(key.Length <= MaxShownKeyLength ? $"[\"{key}\"]" : $"[\"{key[..MaxShownKeyLength]}…\"]");
        return this;
    }

    public MappingError At(int index)
    {
        _path.Add($"[{index}]");
        return this;
    }

    public MappingError In(Type recordType)
    {
        DeclaringType ??= recordType;
        return this;
    }

    /// <summary>The path from the message map down, e.g. <c>["author"]["user_id"]</c>; empty at the top.</summary>
    public string DescribePath()
    {
        var builder = new StringBuilder();
        for (int i = _path.Count - 1; i >= 0; i--)
        {
            // A long path (a cycle, most likely) shows its start and its end.
            if (i == _path.Count - 1 - MaxShownSegments && i > 0)
            {
                builder.Append('…');
                i = 1;
                continue;
            }
            builder.Append(_path[i]);
        }
        return builder.ToString();
    }
}
