using ChannelsRabbitMq.Akka.Samples.Chat.Load;
using Spectre.Console;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>The load mode, in a tiny run against both servers.</summary>
[Collection(TwoServersCollection.Name)]
public sealed class LoadSpecs(TwoServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task A_tiny_run_delivers_every_message_to_every_client_of_its_room()
    {
        var progress = new List<LoadProgress>();
        var report = await LoadRunner.RunAsync(new LoadOptions
        {
            Servers = [servers.Alpha.Url, servers.Bravo.Url],
            Clients = 4,
            Rooms = 2,
            Rate = 20,
            Duration = TimeSpan.FromSeconds(2),
        }, p => { lock (progress) progress.Add(p); }).WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine(report.ToString());
        Assert.InRange(report.Sent, 30, 40);                // 20/s for 2 s
        Assert.Equal(2 * report.Sent, report.Expected);      // 2 clients per room, one on each server
        Assert.Equal(report.Expected, report.Delivered);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.Duplicates);
        Assert.Equal(0, report.Errors);
        Assert.Equal(0, report.Disconnected);
        Assert.True(report.Clean);
        Assert.True(report.Latencies.P50 > 0 && report.Latencies.P99 >= report.Latencies.P50);
        Assert.Equal("done", progress[^1].Phase);
    }

    [Fact]
    public async Task The_load_command_prints_progress_and_a_summary_with_zero_lost()
    {
        var written = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(written),
            Ansi = AnsiSupport.No,
            Interactive = InteractionSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
        });
        console.Profile.Width = 200;

        var exitCode = await LoadCommand.RunAsync(
            ["--server", servers.Alpha.Url.ToString(), "--server", servers.Bravo.Url.ToString(),
             "--clients", "4", "--rooms", "2", "--rate", "20", "--duration", "2"],
            console).WaitAsync(TimeSpan.FromSeconds(60));

        var text = written.ToString();
        output.WriteLine(text);
        Assert.Equal(0, exitCode);
        Assert.Contains("Load summary", text);
        Assert.Matches(@"lost\s*│\s*0\s*│", text);
        Assert.Contains("latency p99", text);
        Assert.Contains("sending", text);  // a progress line
        Assert.Contains("Every message reached every client of its room.", text);
    }

    [Theory]
    [InlineData("--server", "http://10.0.0.1:5101")]           // not loopback
    [InlineData("--server", "http://127.0.0.1:5101", "--clients", "0")]
    [InlineData("--server", "http://127.0.0.1:5101", "--rate", "-1")]
    [InlineData("--server", "http://127.0.0.1:5101", "--duration", "100000")]
    [InlineData("--server", "http://127.0.0.1:5101", "--clients", "2", "--rooms", "3")]
    [InlineData("--clients", "4")]                             // no server
    [InlineData("--server")]                                   // no value
    [InlineData("--server", "http://127.0.0.1:5101", "--settle", "-1")]
    [InlineData("--server", "http://127.0.0.1:5101", "--dialect", "stomp")]
    [InlineData("--what")]
    public async Task Out_of_bounds_arguments_exit_2_before_any_connection(params string[] args)
    {
        var written = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(written), Ansi = AnsiSupport.No });

        Assert.Equal(2, await LoadCommand.RunAsync(args, console));
        Assert.Contains("usage: load", written.ToString());
    }
}
