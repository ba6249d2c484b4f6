using System.Text.RegularExpressions;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// docs/testing.md shows the sample actor and its specs; these are the compiled, passing originals.
/// Each <c>// &lt;snippet:name&gt;</c> region of a source file must appear unchanged in the code
/// block that follows <c>&lt;!-- snippet:name --&gt;</c> in the page, so the page cannot rot.
/// </summary>
public sealed class DocSnippetSpecs
{
    private static string TestKitFolder => Path.Combine(TestBroker.RepoRoot, "tests", "ChannelsRabbitMq.Akka.Tests", "TestKit");

    [Theory]
    [InlineData("chat-connection-actor", "ChatConnectionActor.cs")]
    [InlineData("chat-connection-specs", "ChatConnectionActorSpecs.cs")]
    [InlineData("fault-signals", "FaultSignalSpecs.cs")]
    [InlineData("capacity", "TestingGuideSpecs.cs")]
    [InlineData("chat-room-specs", "ChatRoomSpecs.cs")]
    public void The_testing_guide_shows_the_sample_exactly_as_compiled(string snippet, string sourceFile)
    {
        var source = File.ReadAllText(Path.Combine(TestKitFolder, sourceFile));
        var page = File.ReadAllText(Path.Combine(TestBroker.RepoRoot, "docs", "testing.md"));

        var fromSource = SourceRegion(snippet).Match(source);
        var fromPage = PageBlock(snippet).Match(page);

        Assert.True(fromSource.Success, $"{sourceFile} has no region <snippet:{snippet}>");
        Assert.True(fromPage.Success, $"docs/testing.md has no code block after <!-- snippet:{snippet} -->");
        Assert.Equal(Lines(fromSource.Groups["code"].Value), Lines(fromPage.Groups["code"].Value));
    }

    private static Regex SourceRegion(string name) =>
        new($@"// <snippet:{Regex.Escape(name)}>\r?\n(?<code>.*?)// </snippet:{Regex.Escape(name)}>", RegexOptions.Singleline);

    private static Regex PageBlock(string name) =>
        new($@"<!-- snippet:{Regex.Escape(name)} -->\r?\n```csharp\r?\n(?<code>.*?)```", RegexOptions.Singleline);

    // Without the indentation common to every line: a region may sit inside a method.
    private static string[] Lines(string code)
    {
        var lines = code.Replace("\r\n", "\n").TrimEnd().Split('\n').Select(l => l.TrimEnd()).ToArray();
        var indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return lines.Select(l => l.Length >= indent ? l[indent..] : l).ToArray();
    }
}
