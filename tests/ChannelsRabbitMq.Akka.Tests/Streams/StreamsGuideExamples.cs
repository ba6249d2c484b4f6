using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using ChannelsRabbitMq.Akka.Streams;

namespace ChannelsRabbitMq.Akka.Tests.Streams;

/// <summary>The examples of docs/streams.md, compiled (DocSnippetSpecs checks the page shows them unchanged) and run by <see cref="StreamsGuideSpecs"/>.</summary>
internal static class StreamsGuideExamples
{
    // <snippet:read-all>
    public static async Task<List<string>> FirstTextsAsync(IChannelLayer layer, string channel, int count, CancellationToken cancellationToken)
    {
        var texts = new List<string>();
        await foreach (var message in layer.ReadAllAsync(channel, cancellationToken))
        {
            texts.Add((string)message["text"]!);
            if (texts.Count == count) break; // takes nothing more from the channel
        }
        return texts;
    }
    // </snippet:read-all>

    // <snippet:streams>
    public sealed record Reading(string Sensor, double Value);

    // Averages of 10 readings from a channel, sent to a group: the source takes a reading from
    // the channel only when the stream can use it.
    public static Task<Done> AverageToGroup(IChannelLayer layer, string channel, string group, IMaterializer materializer) =>
        ChannelLayerSource.Create<Reading>(layer, channel)
            .Grouped(10)
            .Select(readings => new Reading("average", readings.Average(r => r.Value)))
            .RunWith(ChannelLayerSink.ToGroup<Reading>(layer, group), materializer);
    // </snippet:streams>
}
