using System.Net.WebSockets;
using Xunit;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>A server stops cleanly: its websockets are told (1001), its layer closes, its ActorSystem terminates.</summary>
public sealed class ShutdownSpecs
{
    [Fact]
    public async Task Stopping_a_server_closes_its_websockets_with_1001_and_its_layer()
    {
        var server = await ChatServer.StartAsync("stopping");
        await using var _ = server;
        var room = "stop-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await ChatClient.JoinAsync(server, room, "ann");
        var layer = server.Layer;
        var closed = client.ReceiveFrameAsync();

        await server.StopAsync();

        Assert.Null(await closed);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        Assert.Equal("server shutting down", client.CloseDescription);
        var statistics = layer.GetStatistics();
        Assert.False(statistics.Connected);
        Assert.NotNull(statistics.DisconnectedSince);
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.NewChannelAsync());
        Assert.True(server.System.WhenTerminated.IsCompleted);
    }
}
