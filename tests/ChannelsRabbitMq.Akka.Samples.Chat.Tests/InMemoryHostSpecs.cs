using System.Net;
using System.Net.Http.Json;
using ChannelsRabbitMq.Akka.Hosting;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>
/// The sample's own wiring (<c>ChatApp.Create</c>, as Program.cs runs it) with its layer replaced
/// by the TestKit's in-memory broker: no RabbitMQ involved, the test broker's URL is unused.
/// </summary>
public sealed class InMemoryHostSpecs
{
    [Fact]
    public async Task The_chat_app_runs_on_the_in_memory_broker_and_a_post_reaches_a_websocket_in_the_room()
    {
        var broker = new InMemoryBroker();
        await using var server = await ChatServer.StartAsync("in-memory", builder =>
            builder.Services.ReplaceChannelLayers((system, _, _) => broker.CreateLayer(system)));
        var room = "memory-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await ChatClient.JoinAsync(server, room, "ann");
        using var http = new HttpClient { Timeout = Eventually.Timeout };

        var response = await http.PostAsJsonAsync(new Uri(server.Url, $"rooms/{room}/messages"), new { text = "no broker needed" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("no broker needed", (await client.ReceiveMessageAsync("no broker needed")).GetProperty("text").GetString());
        Assert.IsType<InMemoryChannelLayer>(server.Layer);
    }
}
