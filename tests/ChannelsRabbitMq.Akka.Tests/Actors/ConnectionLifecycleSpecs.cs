using ChannelsRabbitMq.Akka.Actors;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// The connection actor's lifecycle through the transport seam: publishes refused before they
/// were sent, sessions abandoned during their setup, replays that fail half-way, crashes that are
/// not a lost connection, the reconnect backoff and how failed attempts are logged.
/// </summary>
public sealed class ConnectionLifecycleSpecs : FakeBrokerSpec
{
    public ConnectionLifecycleSpecs(ITestOutputHelper output) : base(output) { }

    [Fact]
    public async Task A_publish_refused_before_it_was_sent_waits_for_the_next_session_and_is_delivered()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        first.CloseUnreported();

        var send = layer.SendAsync(channel, Message("not sent on the closing session"));
        first.ReportLoss();
        await Broker.NextConnectionAsync(Timeout);

        await send.WaitAsync(Timeout);
        Assert.Equal("not sent on the closing session", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task A_publish_unconfirmed_when_the_connection_drops_is_settled_as_may_be_lost_and_never_sent_twice()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        first.HoldConfirms = true;

        var send = layer.SendAsync(channel, Message("in flight"));
        await first.PublishHeld.WaitAsync(Timeout); // handed to the session, not yet confirmed
        await EventFilter.Warning(contains: "; it may be lost").ExpectOneAsync(async () =>
        {
            first.Drop();
            await send.WaitAsync(Timeout);
        });
        await Broker.NextConnectionAsync(Timeout);
        await layer.SendAsync(channel, Message("after"));

        Assert.Equal("after", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task A_session_abandoned_after_its_consume_started_is_reported_lost_so_its_deliveries_are_dropped()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("room", channel);
        // The next session delivers a message as soon as it consumes, then its replay fails.
        Broker.PrepareNextSession(s => s.Inject(WireCodec.Encode(Message("redelivered later"), channel, null, 1 << 20)));
        Broker.FailNextBinds(1);

        first.Drop();
        var abandoned = await Broker.NextConnectionAsync(Timeout);
        var third = await Broker.NextConnectionAsync(Timeout);
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        Assert.NotSame(abandoned, third);
        // Its copy is gone (the broker requeues the message: it comes back through the next session).
        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LocalBacklog == 0), Timeout);
        await layer.SendAsync(channel, Message("next"));
        Assert.Equal("next", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task A_group_left_while_its_unbind_was_cut_short_is_unbound_by_the_next_replay_that_succeeds()
    {
        await using var layer = NewLayer();
        var first = await Broker.NextConnectionAsync(Timeout);
        var channel = await layer.NewChannelAsync();
        await layer.GroupAddAsync("left", channel);
        await layer.GroupAddAsync("kept", channel);
        first.DropOnUnbind = true;
        // The first replay after the drop fails on its bind of "kept".
        Broker.FailNextBinds(1);

        await layer.GroupDiscardAsync("left", channel).WaitAsync(Timeout);
        await Broker.NextConnectionAsync(Timeout); // the failed replay
        await Broker.NextConnectionAsync(Timeout);
        await layer.WaitForConnectionAsync().WaitAsync(Timeout);

        Assert.Contains("left", Broker.UnbindLog);
    }

    [Fact]
    public async Task A_crash_that_is_not_a_lost_connection_keeps_the_stashed_sends()
    {
        Broker.RefuseConnects(1);
        await using var layer = NewLayer(o => o.ReconnectDelay = TimeSpan.FromMilliseconds(300));
        var channel = await layer.NewChannelAsync();
        Broker.PrepareNextSession(s => s.ThrowOnNextIsOpen = true);

        var send = layer.SendAsync(channel, Message("stashed across the crash"));
        await EventFilter.Error(contains: "restarting").ExpectOneAsync(async () => await Broker.NextConnectionAsync(Timeout));

        await send.WaitAsync(Timeout);
        Assert.Equal("stashed across the crash", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]);
    }

    [Fact]
    public async Task A_recurring_connection_failure_is_logged_once_then_quietly()
    {
        Broker.RefuseConnects(4);
        RabbitMqChannelLayer? layer = null;

        await EventFilter.Error(contains: "Failure connecting").ExpectOneAsync(async () =>
        {
            await EventFilter.Debug(contains: "Failure connecting").ExpectAsync(3, async () =>
            {
                layer = NewLayer(o => o.MaxReconnectDelay = TimeSpan.FromMilliseconds(50));
                await Broker.NextConnectionAsync(Timeout);
            });
        });

        await layer!.CloseAsync();
    }

    [Fact]
    public async Task A_recurring_connection_failure_is_recalled_at_warning_level_after_the_reminder_interval()
    {
        Broker.RefuseConnects(int.MaxValue);
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings, typeof(global::Akka.Event.Warning));

        await using var layer = NewLayer(o =>
        {
            o.MaxReconnectDelay = TimeSpan.FromMilliseconds(50);
            o.ConnectFailureReminder = TimeSpan.FromMilliseconds(200);
        });

        var reminder = await warnings.FishForMessageAsync<global::Akka.Event.Warning>(
            w => w.Message.ToString()!.Contains("still failing", StringComparison.Ordinal), Timeout);
        Assert.Contains("Connection refused (simulated)", reminder.Message.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_statistics_show_why_connecting_fails_and_since_when()
    {
        Broker.RefuseConnects(int.MaxValue);
        await using var layer = NewLayer();

        await AwaitConditionAsync(() => Task.FromResult(layer.GetStatistics().LastConnectionError is not null), Timeout);

        var statistics = layer.GetStatistics();
        Assert.Contains("Connection refused (simulated)", statistics.LastConnectionError, StringComparison.Ordinal);
        Assert.NotNull(statistics.LastConnectionErrorSince);
        Assert.False(statistics.Connected);
    }

    [Fact]
    public void Reconnect_waits_double_per_failure_up_to_the_cap_and_are_spread_by_a_fifth()
    {
        var baseDelay = TimeSpan.FromSeconds(1);
        var cap = TimeSpan.FromSeconds(10);

        Assert.Equal(TimeSpan.FromSeconds(1), ReconnectBackoff.Delay(1, baseDelay, cap, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(2), ReconnectBackoff.Delay(2, baseDelay, cap, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(8), ReconnectBackoff.Delay(4, baseDelay, cap, 0.5));
        Assert.Equal(cap, ReconnectBackoff.Delay(40, baseDelay, cap, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(0.8), ReconnectBackoff.Delay(1, baseDelay, cap, 0.0));
        Assert.Equal(1.2, ReconnectBackoff.Delay(1, baseDelay, cap, 0.999999).TotalSeconds, 3);
        // Spread below the cap, never above it.
        Assert.Equal(TimeSpan.FromSeconds(8), ReconnectBackoff.Delay(40, baseDelay, cap, 0.0));
        Assert.Equal(cap, ReconnectBackoff.Delay(40, baseDelay, cap, 0.999999));
    }

    [Fact]
    public void Reconnect_waits_drawn_at_random_differ_and_stay_within_their_bounds()
    {
        var random = new Random(1234);
        var waits = Enumerable.Range(0, 200)
            .Select(_ => ReconnectBackoff.Delay(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), random.NextDouble()))
            .ToArray();

        Assert.All(waits, w => Assert.InRange(w.TotalSeconds, 3.2, 4.8));
        Assert.True(waits.Distinct().Count() > 150, "the waits are not spread");
    }
}
