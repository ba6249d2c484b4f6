using System.Text.RegularExpressions;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// docs/testing.md, streams.md, telemetry.md and actors.md show code that lives, compiled and run, in the tests.
/// Each <c>// &lt;snippet:name&gt;</c> region of a source file must appear unchanged in the code
/// block that follows <c>&lt;!-- snippet:name --&gt;</c> in the page, so the page cannot rot.
/// </summary>
public sealed class DocSnippetSpecs
{
    private static string TestsFolder => Path.Combine(TestBroker.RepoRoot, "tests", "ChannelsRabbitMq.Akka.Tests");

    [Theory]
    [InlineData("testing.md", "chat-connection-actor", "TestKit/ChatConnectionActor.cs")]
    [InlineData("testing.md", "chat-connection-specs", "TestKit/ChatConnectionActorSpecs.cs")]
    [InlineData("testing.md", "fault-signals", "TestKit/FaultSignalSpecs.cs")]
    [InlineData("testing.md", "capacity", "TestKit/TestingGuideSpecs.cs")]
    [InlineData("testing.md", "chat-room-specs", "TestKit/ChatRoomSpecs.cs")]
    [InlineData("streams.md", "read-all", "Streams/StreamsGuideExamples.cs")]
    [InlineData("streams.md", "streams", "Streams/StreamsGuideExamples.cs")]
    [InlineData("telemetry.md", "opentelemetry", "Integration/OpenTelemetryInstrumentationTests.cs")]
    [InlineData("actors.md", "typed-consumer", "Consumers/ConsumerGuideExamples.cs")]
    [InlineData("actors.md", "websocket-consumer", "WebSockets/WebSocketBridgeSpecs.cs")]
    public void The_guide_shows_the_code_exactly_as_compiled(string pageName, string snippet, string sourceFile)
    {
        var source = File.ReadAllText(Path.Combine(TestsFolder, sourceFile));
        var page = File.ReadAllText(Path.Combine(TestBroker.RepoRoot, "docs", pageName));

        var fromSource = SourceRegion(snippet).Match(source);
        var fromPage = PageBlock(snippet).Match(page);

        Assert.True(fromSource.Success, $"{sourceFile} has no region <snippet:{snippet}>");
        Assert.True(fromPage.Success, $"docs/{pageName} has no code block after <!-- snippet:{snippet} -->");
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
