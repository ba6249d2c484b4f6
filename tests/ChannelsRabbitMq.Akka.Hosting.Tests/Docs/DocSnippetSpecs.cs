using System.Text;
using System.Text.RegularExpressions;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests.Docs;

/// <summary>
/// The hosting code of docs/hosting.md, docs/testing.md ("Testing an Akka.Hosting app") and the
/// README is compiled in this folder: each <c>// &lt;snippet:name&gt;</c> region of a source file
/// must appear unchanged (up to indentation) in the code block that follows
/// <c>&lt;!-- snippet:name --&gt;</c> in the page, so the pages cannot rot.
/// </summary>
public sealed class DocSnippetSpecs
{
    private const string Snippets = "HostingSnippets.cs";

    [Theory]
    [InlineData("docs/hosting.md", "hosting-program", Snippets)]
    [InlineData("docs/hosting.md", "hosting-before-start", Snippets)]
    [InlineData("docs/hosting.md", "hosting-post-configure", Snippets)]
    [InlineData("docs/hosting.md", "hosting-named-layers", Snippets)]
    [InlineData("docs/hosting.md", "hosting-marker", Snippets)]
    [InlineData("docs/hosting.md", "hosting-akka-builder", Snippets)]
    [InlineData("docs/hosting.md", "hosting-ask", Snippets)]
    [InlineData("docs/hosting.md", "hosting-health", Snippets)]
    [InlineData("README.md", "readme-hosting", Snippets)]
    [InlineData("docs/testing.md", "testing-akka-hosting", "NotificationWiringSpecs.cs")]
    public void The_page_shows_the_code_exactly_as_compiled(string page, string snippet, string sourceFile)
    {
        var source = File.ReadAllText(Path.Combine(Folder, sourceFile));
        var text = File.ReadAllText(Path.Combine(TestBroker.RepoRoot, page));

        var fromSource = new Regex($@"// <snippet:{Regex.Escape(snippet)}>\r?\n(?<code>.*?)// </snippet:{Regex.Escape(snippet)}>", RegexOptions.Singleline).Match(source);
        var fromPage = PageBlock(snippet).Match(text);

        Assert.True(fromSource.Success, $"{sourceFile} has no region <snippet:{snippet}>");
        Assert.True(fromPage.Success, $"{page} has no code block after <!-- snippet:{snippet} -->");
        Assert.Equal(Lines(fromSource.Groups["code"].Value), Lines(fromPage.Groups["code"].Value));
    }

    [Fact]
    public void Every_csharp_block_of_the_hosting_page_is_a_compiled_snippet()
    {
        var page = File.ReadAllText(Path.Combine(TestBroker.RepoRoot, "docs", "hosting.md"));

        var unchecked_ = Regex.Matches(page, @"(?<marker><!-- snippet:[\w-]+ -->\r?\n)?```csharp\r?\n(?<code>.*?)```", RegexOptions.Singleline)
            .Where(m => !m.Groups["marker"].Success)
            .Select(m => m.Groups["code"].Value)
            .ToList();

        Assert.Empty(unchecked_);
    }

    [Fact]
    public void The_appsettings_example_binds_and_shows_every_option()
    {
        var json = PageBlock("hosting-appsettings").Match(File.ReadAllText(Path.Combine(TestBroker.RepoRoot, "docs", "hosting.md")));
        Assert.True(json.Success, "docs/hosting.md has no appsettings example");
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json.Groups["code"].Value))).Build();
        var section = configuration.GetSection("ChannelLayers:default");

        var options = new RabbitMqChannelLayerOptions();
        ChannelLayerConfiguration.BindValues(section, options); // the certificate files do not exist here: not validated

        Assert.Equal(TimeSpan.FromSeconds(60), options.Expiry);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.ReconnectDelay);
        Assert.Equal("rabbit.internal", options.Tls?.ServerName);
        // A PKCS#12 password and a PEM key file do not go together; the example shows the PEM form.
        var shown = section.AsEnumerable(makePathsRelative: true).Select(kv => kv.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = ChannelLayerConfiguration.Keys(typeof(RabbitMqChannelLayerOptions)).Select(k => k.Key)
            .Where(k => !shown.Contains(k) && k != "Tls:ClientCertificatePassword" && k != "QueueName");
        Assert.Empty(missing);
    }

    private static string Folder => Path.Combine(TestBroker.RepoRoot, "tests", "ChannelsRabbitMq.Akka.Hosting.Tests", "Docs");

    private static Regex PageBlock(string name) =>
        new($@"<!-- snippet:{Regex.Escape(name)} -->\r?\n```(csharp|json)\r?\n(?<code>.*?)```", RegexOptions.Singleline);

    /// <summary>The lines, without trailing blanks and without the indentation they all share.</summary>
    private static string[] Lines(string code)
    {
        var lines = code.Replace("\r\n", "\n").TrimEnd().Split('\n').Select(l => l.TrimEnd()).ToArray();
        var indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return lines.Select(l => l.Length >= indent ? l[indent..] : l).ToArray();
    }
}
