using Akka.Actor;
using Akka.Hosting;
using ChannelsRabbitMq.Akka.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;
using HostingTestKit = Akka.Hosting.TestKit.TestKit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>The layer closes in CoordinatedShutdown, before the ActorSystem terminates.</summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class ShutdownSpecs(ITestOutputHelper output) : HostingTestKit(nameof(ShutdownSpecs), output)
{
    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services) => services.AddChannelLayers();

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) =>
        builder.WithRabbitMqChannelLayer(options => options.Host = TestBroker.Url);

    [Fact]
    public async Task A_pending_receive_ends_with_ChannelLayerClosedException_when_the_ActorSystem_shuts_down()
    {
        var layer = await ConnectedLayerAsync();
        var channel = await layer.NewChannelAsync(cancellationToken: TestContext.Current.CancellationToken);
        var receive = layer.ReceiveAsync(channel, TestContext.Current.CancellationToken);

        await RunCoordinatedShutdownAsync();

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => receive.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken));
        var statistics = layer.GetStatistics();
        Assert.False(statistics.Connected);
        Assert.NotNull(statistics.DisconnectedSince);
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.NewChannelAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task The_connection_is_closed_before_the_ActorSystem_terminates()
    {
        var layer = await ConnectedLayerAsync();
        var connectionName = $"ChannelsRabbitMq.Akka {layer.QueueName}";
        Assert.Single(TestBroker.ConnectionPids(connectionName));
        var channel = await layer.NewChannelAsync(cancellationToken: TestContext.Current.CancellationToken);
        var receive = layer.ReceiveAsync(channel, TestContext.Current.CancellationToken);
        // The last phase before the ActorSystem terminates sees what the layer's close has done.
        (bool ReceiveEnded, bool Connected)? seen = null;
        CoordinatedShutdown.Get(Sys).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "observe-channel-layer", () =>
        {
            seen = (receive.IsCompleted, layer.GetStatistics().Connected);
            return Task.FromResult(global::Akka.Done.Instance);
        });

        await RunCoordinatedShutdownAsync();

        Assert.Equal((true, false), seen);
        Assert.Empty(TestBroker.ConnectionPids(connectionName));
    }

    private async Task<RabbitMqChannelLayer> ConnectedLayerAsync()
    {
        var layer = Host.Services.GetRequiredService<RabbitMqChannelLayer>();
        await Eventually.Until(() => layer.GetStatistics().Connected, "connected");
        return layer;
    }

    private async Task RunCoordinatedShutdownAsync()
    {
        await CoordinatedShutdown.Get(Sys).Run(CoordinatedShutdown.ClrExitReason.Instance)
            .WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        await Sys.WhenTerminated.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
    }
}
