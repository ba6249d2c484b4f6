using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>Helpers shared by the tests on the dedicated cluster.</summary>
internal static class DedicatedLayers
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static RabbitMqChannelLayer Create(ReliabilitySystem akka, string host, Action<RabbitMqChannelLayerOptions>? configure = null)
    {
        var options = new RabbitMqChannelLayerOptions
        {
            Host = host,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        return new RabbitMqChannelLayer(akka.System, options);
    }

    /// <summary>A direct message each way and a group message to both: every copy arrives.</summary>
    public static async Task AssertTrafficFlowsAsync(RabbitMqChannelLayer first, string firstChannel, RabbitMqChannelLayer second,
        string secondChannel, string group, string tag)
    {
        await first.SendAsync(secondChannel, Tagged.Message($"{tag}-1to2")).WaitAsync(Timeout);
        Assert.Equal($"{tag}-1to2", Tagged.IdOf(await second.ReceiveAsync(secondChannel).WaitAsync(Timeout)));
        await second.SendAsync(firstChannel, Tagged.Message($"{tag}-2to1")).WaitAsync(Timeout);
        Assert.Equal($"{tag}-2to1", Tagged.IdOf(await first.ReceiveAsync(firstChannel).WaitAsync(Timeout)));
        await first.GroupSendAsync(group, Tagged.Message($"{tag}-group", "group")).WaitAsync(Timeout);
        Assert.Equal($"{tag}-group", Tagged.IdOf(await first.ReceiveAsync(firstChannel).WaitAsync(Timeout)));
        Assert.Equal($"{tag}-group", Tagged.IdOf(await second.ReceiveAsync(secondChannel).WaitAsync(Timeout)));
    }

    /// <summary>Waits until the layer has made a connection after <paramref name="reconnectsBefore"/>; returns when it saw it.</summary>
    public static Task<TimeSpan> WaitForReconnectAsync(RabbitMqChannelLayer layer, long reconnectsBefore, TimeSpan timeout, string what) =>
        Poll.UntilAsync(() => layer.GetStatistics() is { Connected: true } s && s.Reconnects > reconnectsBefore, timeout, what, intervalMs: 10);

    public static Task WaitForDisconnectAsync(RabbitMqChannelLayer layer, TimeSpan timeout, string what) =>
        Poll.UntilAsync(() => !layer.GetStatistics().Connected, timeout, what, intervalMs: 10);

    /// <summary>Polls a TCP port until it accepts; returns the elapsed time of <paramref name="clock"/> then.</summary>
    public static async Task<TimeSpan> WhenPortOpensAsync(int port, Stopwatch clock, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, cancellationToken);
                return clock.Elapsed;
            }
            catch (SocketException)
            {
                await Task.Delay(10, cancellationToken);
            }
        }
        throw new OperationCanceledException();
    }
}
