using Akka.Streams;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Streams;

/// <summary>The examples of docs/streams.md do what the page says (on the in-memory broker).</summary>
public sealed class StreamsGuideSpecs(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_read_all_example_reads_the_first_messages_and_leaves_the_rest()
    {
        await using var layer = new InMemoryBroker().CreateLayer(Sys);
        var channel = await layer.NewChannelAsync();
        foreach (var text in new[] { "a", "b", "c" })
            await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "note", ["text"] = text });

        Assert.Equal(["a", "b"], await StreamsGuideExamples.FirstTextsAsync(layer, channel, 2, new CancellationTokenSource(Timeout).Token));
        Assert.Equal("c", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task The_streams_example_sends_the_average_of_ten_readings_to_the_group()
    {
        await using var layer = new InMemoryBroker().CreateLayer(Sys);
        var input = await layer.NewChannelAsync();
        var member = await layer.NewChannelAsync();
        await layer.GroupAddAsync("averages", member);
        for (var i = 1; i <= 10; i++) await layer.SendAsync(input, new StreamsGuideExamples.Reading("s", i));

        _ = StreamsGuideExamples.AverageToGroup(layer, input, "averages", Sys.Materializer());

        var average = await layer.ReceiveAsync<StreamsGuideExamples.Reading>(member).WaitAsync(Timeout);
        Assert.Equal(new StreamsGuideExamples.Reading("average", 5.5), average);
    }
}
