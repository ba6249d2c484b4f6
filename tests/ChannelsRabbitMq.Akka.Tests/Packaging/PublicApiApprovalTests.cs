using System.Reflection;
using System.Text;
using ChannelsRabbitMq.Akka.Hosting;
using ChannelsRabbitMq.Akka.TestKit;
using PublicApiGenerator;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Packaging;

/// <summary>
/// The public API of each package, rendered by PublicApiGenerator, must equal its checked-in
/// approved file (<c>Packaging/Api/{assembly}.approved.txt</c>), so that every API change shows
/// up as a diff in review. On a mismatch the test writes <c>{assembly}.received.txt</c> next to
/// the approved file and fails with the differing lines. To accept a deliberate change:
/// <c>ACCEPT_API_CHANGES=1 dotnet test tests/ChannelsRabbitMq.Akka.Tests --filter "FullyQualifiedName~PublicApi"</c>
/// (docs/packaging.md), then review and commit the approved files.
/// </summary>
public sealed class PublicApiApprovalTests
{
    public static TheoryData<string> Packages =>
        ["ChannelsRabbitMq.Akka", "ChannelsRabbitMq.Akka.Hosting", "ChannelsRabbitMq.Akka.TestKit", "ChannelsRabbitMq.Akka.Streams", "ChannelsRabbitMq.Akka.OpenTelemetry"];

    [Theory]
    [MemberData(nameof(Packages))]
    public void Public_api_matches_the_approved_file(string package)
    {
        var assembly = package switch
        {
            "ChannelsRabbitMq.Akka" => typeof(RabbitMqChannelLayer).Assembly,
            "ChannelsRabbitMq.Akka.Hosting" => typeof(ChannelLayerRegistry).Assembly,
            "ChannelsRabbitMq.Akka.TestKit" => typeof(InMemoryChannelLayer).Assembly,
            "ChannelsRabbitMq.Akka.Streams" => typeof(ChannelsRabbitMq.Akka.Streams.ChannelLayerSource).Assembly,
            "ChannelsRabbitMq.Akka.OpenTelemetry" => typeof(OpenTelemetry.Metrics.ChannelsRabbitMqMeterProviderBuilderExtensions).Assembly,
            _ => throw new ArgumentOutOfRangeException(nameof(package)),
        };
        var received = Render(assembly);

        var folder = Path.Combine(TestBroker.RepoRoot, "tests", "ChannelsRabbitMq.Akka.Tests", "Packaging", "Api");
        var approvedPath = Path.Combine(folder, package + ".approved.txt");
        var receivedPath = Path.Combine(folder, package + ".received.txt");
        var approved = File.Exists(approvedPath) ? Normalize(File.ReadAllText(approvedPath)) : null;

        if (approved == received)
        {
            File.Delete(receivedPath);
            return;
        }
        if (Environment.GetEnvironmentVariable("ACCEPT_API_CHANGES") is "1" or "true")
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(approvedPath, received);
            File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, received);
        Assert.Fail(
            $"The public API of {package} differs from {Relative(approvedPath)}" +
            (approved is null ? " (which does not exist yet)" : "") + ".\n" +
            $"What the build has now is in {Relative(receivedPath)}. If the change is deliberate, accept it with\n" +
            "    ACCEPT_API_CHANGES=1 dotnet test tests/ChannelsRabbitMq.Akka.Tests --filter \"FullyQualifiedName~PublicApi\"\n" +
            "and commit the approved file (and a CHANGELOG.md line); otherwise fix the code.\n" +
            "Differences (- approved, + now):\n" + LineDiff.Render(approved ?? "", received));
    }

    /// <summary>The API text: stable across Debug/Release builds, machines and line endings.</summary>
    internal static string Render(Assembly assembly) => Normalize(assembly.GeneratePublicApi(new ApiGeneratorOptions
    {
        // Build-dependent noise: the repository URL and commit that SourceLink stamps.
        ExcludeAttributes = ["System.Reflection.AssemblyMetadataAttribute"],
    }));

    private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimEnd('\n') + "\n";

    private static string Relative(string path) => Path.GetRelativePath(TestBroker.RepoRoot, path);
}

/// <summary>A minimal line diff (longest common subsequence) for the failure message.</summary>
internal static class LineDiff
{
    /// <summary>Lines only in <paramref name="before"/> as "- ", only in <paramref name="after"/> as "+ ", with two lines of context.</summary>
    public static string Render(string before, string after, int context = 2)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        for (var j = b.Length - 1; j >= 0; j--)
            lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);

        var lines = new List<(char Kind, string Text)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { lines.Add((' ', a[x])); x++; y++; }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1])) lines.Add(('-', a[x++]));
            else lines.Add(('+', b[y++]));
        }

        var output = new StringBuilder();
        var lastPrinted = -1;
        for (var k = 0; k < lines.Count; k++)
        {
            var near = false;
            for (var d = -context; d <= context && !near; d++)
                near = k + d >= 0 && k + d < lines.Count && lines[k + d].Kind != ' ';
            if (!near) continue;
            if (lastPrinted >= 0 && k > lastPrinted + 1) output.Append("  …\n");
            output.Append(lines[k].Kind).Append(' ').Append(lines[k].Text).Append('\n');
            lastPrinted = k;
        }
        return output.ToString();
    }
}
