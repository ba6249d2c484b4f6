using Akka.Configuration;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// The fault API's completions mean the state is observable, and every state a test waits for has
/// an awaitable signal, with a timeout or the TestKit's (dilated) one.
/// </summary>
public sealed class FaultSignalSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly InMemoryBroker _broker = new();

    public FaultSignalSpecs(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString("akka.loglevel = DEBUG\nakka.test.timefactor = 4"), output: output) { }

    private InMemoryChannelLayer NewLayer() => _broker.CreateLayer(Sys, o => o.ReconnectDelay = TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task Once_BeginOutage_completes_the_statistics_say_disconnected()
    {
        await using var layer = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);

        var statistics = layer.GetStatistics();
        Assert.False(statistics.Connected);
        Assert.NotNull(statistics.DisconnectedSince);
    }

    [Fact]
    public async Task Once_DropConnection_completes_the_statistics_say_disconnected_unless_the_layer_already_reconnected()
    {
        await using var layer = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        await layer.Faults.DropConnectionAsync().WaitAsync(Timeout);

        // A lost connection is retried at once: the only other state it may be in is reconnected.
        var statistics = layer.GetStatistics();
        Assert.True(!statistics.Connected || statistics.Reconnects == 1, $"connected, with {statistics.Reconnects} reconnects");
    }

    [Fact]
    public async Task WaitForDisconnect_completes_when_the_connection_is_lost_whatever_loses_it()
    {
        await using var layer = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);
        var lost = layer.Faults.WaitForDisconnectAsync(Timeout);
        Assert.False(lost.IsCompleted);

        _broker.DropAllConnections();

        await lost;
    }

    [Fact]
    public async Task WaitForDisconnect_completes_at_once_during_an_outage()
    {
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);

        Assert.True(layer.Faults.WaitForDisconnectAsync().IsCompleted);
    }

    [Fact]
    public async Task WaitForConnectAttemptsRefused_completes_once_that_many_attempts_were_refused()
    {
        await using var layer = NewLayer();
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);
        await layer.Faults.WaitForConnectAttemptsRefusedAsync(2, Timeout);

        Assert.True(layer.Faults.ConnectAttemptsRefused >= 2);
        Assert.False(layer.GetStatistics().Connected);
    }

    [Fact]
    public async Task A_signal_given_a_timeout_fails_with_TimeoutException_naming_what_did_not_happen()
    {
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync().WaitAsync(Timeout);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => layer.Faults.WaitForReconnectAsync(TimeSpan.FromMilliseconds(50)));

        Assert.Contains("did not reconnect", timeout.Message);
    }

    [Fact]
    public async Task Given_the_TestKit_a_signal_waits_for_the_dilated_timeout()
    {
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync(this).WaitAsync(Timeout);

        // akka.test.timefactor = 4: 50 ms become 200 ms.
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => layer.Faults.WaitForReconnectAsync(this, TimeSpan.FromMilliseconds(50)));

        Assert.Contains(TimeSpan.FromMilliseconds(200).ToString(), timeout.Message);
    }

    [Fact]
    public async Task Given_the_TestKit_inside_Within_a_signal_waits_for_the_time_that_is_left()
    {
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync(this).WaitAsync(Timeout);

        // The signal takes the time left when it is called; awaited outside the block, so its
        // timeout and Within's own deadline do not race.
        Task? waiting = null;
        await WithinAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1), () =>
        {
            waiting = layer.Faults.WaitForReconnectAsync(this);
            return Task.CompletedTask;
        });

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => waiting!);
        Assert.Contains("did not reconnect", timeout.Message);
        var waited = TimeSpan.Parse(System.Text.RegularExpressions.Regex.Match(timeout.Message, @"within (\S+)\.$").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(waited, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(4)); // 1 s × akka.test.timefactor 4, less what had passed
    }

    [Fact]
    public async Task The_signals_of_an_outage_and_its_recovery_read_as_a_script_with_the_TestKit()
    {
        await using var layer = NewLayer();
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

        // <snippet:fault-signals>
        await layer.Faults.BeginOutageAsync(this);
        await layer.Faults.WaitForConnectAttemptsRefusedAsync(layer.Faults.ConnectAttemptsRefused + 1, this);
        Assert.False(layer.GetStatistics().Connected);
        layer.Faults.EndOutage();
        await layer.Faults.WaitForReconnectAsync(this, TimeSpan.FromSeconds(5));
        // </snippet:fault-signals>

        Assert.True(layer.GetStatistics().Connected);
        Assert.Equal(["room"], _broker.BindingKeys(layer.QueueName)); // reconnected = bindings replayed
    }

    [Fact]
    public async Task The_simulated_outage_log_line_is_one_sentence_per_cause_without_a_double_period()
    {
        var warnings = new Warnings(this);
        await using var layer = NewLayer();
        await layer.Faults.BeginOutageAsync(this);

        var line = (await warnings.WaitForAsync("simulated outage"))[0];

        Assert.StartsWith("Failure connecting to amqp://in-memory/", line);
        Assert.DoesNotContain("..", line);
        Assert.Contains("(simulated outage). Retrying in ", line);
    }
}
