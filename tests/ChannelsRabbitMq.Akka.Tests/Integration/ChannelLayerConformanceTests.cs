using System.Collections;
using System.Text.RegularExpressions;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// The behaviour every <see cref="IChannelLayer"/> must have (design.md, "Semantics"), mirroring
/// the Python channels_rabbitmq test suite (tests/test_core.py, tests/test_connection.py). A
/// subclass supplies the layers (<see cref="NewLayer"/>) and feeds the layer's log into
/// <see cref="Log"/>. Every test makes its own layers, channels, groups and queue names, so test
/// classes can run in parallel on one broker.
/// </summary>
/// <remarks>
/// "Did not receive" is never checked by waiting: after the action under test, a sentinel is sent
/// to the same channel. Both go through the same broker in order, so if the message under test
/// had been routed to the channel it would be received before the sentinel.
/// </remarks>
public abstract partial class ChannelLayerConformanceTests : IAsyncLifetime
{
    /// <summary>A safety net for awaits that should complete quickly: never a synchronisation.</summary>
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly List<IChannelLayer> _layers = [];

    /// <summary>The layers' log: the subclass records every log line of its layers here.</summary>
    protected LogRecorder Log { get; } = new();

    /// <summary>Creates a layer (it may connect in the background). The base class closes it after the test.</summary>
    protected abstract IChannelLayer NewLayer(LayerSettings settings);

    /// <summary>Runs after every layer of the test is closed (e.g. to stop the actor system).</summary>
    protected virtual Task DisposeResourcesAsync() => Task.CompletedTask;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        IChannelLayer[] layers;
        lock (_layers) layers = _layers.ToArray();
        try
        {
            // A close that hangs is a bug: WaitAsync turns it into a failure of the test.
            await Task.WhenAll(layers.Select(l => l.CloseAsync())).WaitAsync(Timeout);
        }
        finally
        {
            await DisposeResourcesAsync();
        }
    }

    protected IChannelLayer Layer(LayerSettings? settings = null)
    {
        var layer = NewLayer(settings ?? LayerSettings.Default);
        lock (_layers) _layers.Add(layer);
        return layer;
    }

    /// <summary>A name no other test uses: <c>{prefix}-{12 hex digits}</c>.</summary>
    protected static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    protected static Dictionary<string, object?> Msg(string type, string? text = null)
    {
        var message = new Dictionary<string, object?> { ["type"] = type };
        if (text is not null) message["text"] = text;
        return message;
    }

    protected static string TypeOf(IReadOnlyDictionary<string, object?> message) => Assert.IsType<string>(message["type"]);

    protected static async Task<string> ReceiveTypeAsync(IChannelLayer layer, string channel) =>
        TypeOf(await layer.ReceiveAsync(channel).WaitAsync(Timeout));

    /// <summary>
    /// Waits until <paramref name="layer"/> is connected and consuming: a message to one of its own
    /// channels makes the round trip. (A send to another layer's channel before that layer's queue
    /// exists would be dropped by the broker.)
    /// </summary>
    protected static async Task EnsureReadyAsync(IChannelLayer layer)
    {
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("ready")).WaitAsync(Timeout);
        Assert.Equal("ready", await ReceiveTypeAsync(layer, channel));
    }

    // ------------------------------------------------------------------ send / receive

    [Fact]
    public async Task Send_then_receive_returns_the_message()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        await layer.SendAsync(channel, Msg("test.message", "Ahoy-hoy!")).WaitAsync(Timeout);
        var message = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.Equal("test.message", message["type"]);
        Assert.Equal("Ahoy-hoy!", message["text"]);
    }

    [Fact]
    public async Task A_received_message_has_exactly_the_keys_that_were_sent()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);

        await layer.SendAsync(channel, Msg("direct", "a")).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("grouped", "b")).WaitAsync(Timeout);
        var direct = await layer.ReceiveAsync(channel).WaitAsync(Timeout);
        var grouped = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.Equal(["text", "type"], direct.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["text", "type"], grouped.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Messages_to_one_channel_are_received_in_the_order_they_were_sent()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        for (var i = 1; i <= 5; i++) await layer.SendAsync(channel, Msg($"message.{i}")).WaitAsync(Timeout);

        for (var i = 1; i <= 5; i++) Assert.Equal($"message.{i}", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Sends_issued_back_to_back_without_awaiting_are_received_in_order()
    {
        // Issued the moment the layer is created, while it is still starting and connecting.
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        var sends = Enumerable.Range(0, 50).Select(i => layer.SendAsync(channel, Msg($"m{i:00}"))).ToArray();
        await Task.WhenAll(sends).WaitAsync(Timeout);

        var received = new List<string>();
        for (var i = 0; i < 50; i++) received.Add(await ReceiveTypeAsync(layer, channel));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i:00}"), received);
    }

    [Fact]
    public async Task Two_layers_send_to_each_other()
    {
        var layer1 = Layer();
        var layer2 = Layer();
        await Task.WhenAll(EnsureReadyAsync(layer1), EnsureReadyAsync(layer2));
        var channel1 = await layer1.NewChannelAsync();
        var channel2 = await layer2.NewChannelAsync();

        await layer1.SendAsync(channel2, Msg("to.layer2")).WaitAsync(Timeout);
        await layer2.SendAsync(channel1, Msg("to.layer1")).WaitAsync(Timeout);

        Assert.Equal("to.layer2", await ReceiveTypeAsync(layer2, channel2));
        Assert.Equal("to.layer1", await ReceiveTypeAsync(layer1, channel1));
    }

    [Fact]
    public async Task A_cancelled_receive_loses_no_message()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var received = new List<string>();

        // Cancel each receive just as its message arrives: whichever wins, the message must be
        // received exactly once (by the cancelled call if it completed first, else by the next).
        for (var i = 0; i < 20; i++)
        {
            using var cts = new CancellationTokenSource();
            var pending = layer.ReceiveAsync(channel, cts.Token);
            await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);
            cts.Cancel();
            try
            {
                received.Add(TypeOf(await pending.WaitAsync(Timeout)));
            }
            catch (OperationCanceledException)
            {
                received.Add(await ReceiveTypeAsync(layer, channel));
            }
        }
        // Nothing was received twice: the next message is the sentinel.
        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), received);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_receive_cancelled_before_any_message_arrives_throws_OperationCanceledException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        using var cts = new CancellationTokenSource();
        var pending = layer.ReceiveAsync(channel, cts.Token);

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Timeout));
        await layer.SendAsync(channel, Msg("after")).WaitAsync(Timeout);
        Assert.Equal("after", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Concurrent_receives_on_one_channel_each_get_a_different_message()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var receives = Enumerable.Range(0, 5).Select(_ => layer.ReceiveAsync(channel)).ToArray();

        for (var i = 0; i < 5; i++) await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);
        var messages = await Task.WhenAll(receives).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"m{i}"), messages.Select(TypeOf).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Hundred_concurrent_sends_and_hundred_concurrent_group_sends_are_all_delivered()
    {
        var sender = Layer();
        var receiver = Layer(new LayerSettings { RemoteCapacity = 1000 });
        var direct = await receiver.NewChannelAsync();
        var grouped = await receiver.NewChannelAsync();
        var group = Unique("g");
        await receiver.GroupAddAsync(group, grouped).WaitAsync(Timeout);
        await EnsureReadyAsync(receiver);

        var sends = Enumerable.Range(0, 100).Select(i => sender.SendAsync(direct, Msg($"d{i}")))
            .Concat(Enumerable.Range(0, 100).Select(i => sender.GroupSendAsync(group, Msg($"g{i}"))))
            .ToArray();
        await Task.WhenAll(sends).WaitAsync(Timeout);

        // Drain both channels at once: buffered messages of one channel must not starve the other.
        async Task<List<string>> Drain(string channel)
        {
            var types = new List<string>();
            for (var i = 0; i < 100; i++) types.Add(await ReceiveTypeAsync(receiver, channel));
            return types;
        }
        var drained = await Task.WhenAll(Drain(direct), Drain(grouped)).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"d{i}").Order(), drained[0].Order());
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"g{i}").Order(), drained[1].Order());
    }

    // ------------------------------------------------------------------ groups

    [Fact]
    public async Task Group_send_reaches_every_member_within_a_layer()
    {
        var layer = Layer();
        var channels = new[] { await layer.NewChannelAsync(), await layer.NewChannelAsync(), await layer.NewChannelAsync() };
        var group = Unique("g");
        foreach (var channel in channels) await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("message.1")).WaitAsync(Timeout);

        foreach (var channel in channels) Assert.Equal("message.1", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Group_send_reaches_members_in_other_layers()
    {
        var layer1 = Layer();
        var layer2 = Layer();
        var x1 = await layer1.NewChannelAsync();
        var x2 = await layer1.NewChannelAsync();
        var y3 = await layer2.NewChannelAsync();
        var group = Unique("g");
        await layer1.GroupAddAsync(group, x1).WaitAsync(Timeout);
        await layer1.GroupAddAsync(group, x2).WaitAsync(Timeout);
        await layer2.GroupAddAsync(group, y3).WaitAsync(Timeout);
        await layer1.GroupDiscardAsync(group, x2).WaitAsync(Timeout);

        await layer2.GroupSendAsync(group, Msg("message.1")).WaitAsync(Timeout);

        Assert.Equal("message.1", await ReceiveTypeAsync(layer1, x1));
        Assert.Equal("message.1", await ReceiveTypeAsync(layer2, y3));
        // x2 left the group; it still gets direct messages, from any layer.
        await layer2.SendAsync(x2, Msg("message.2")).WaitAsync(Timeout);
        Assert.Equal("message.2", await ReceiveTypeAsync(layer1, x2));
    }

    [Fact]
    public async Task A_channel_discarded_from_a_group_gets_no_later_group_messages()
    {
        var layer = Layer();
        var stays = await layer.NewChannelAsync();
        var leaves = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, stays).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, leaves).WaitAsync(Timeout);

        await layer.GroupDiscardAsync(group, leaves).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("group.message")).WaitAsync(Timeout);
        await layer.SendAsync(leaves, Msg("sentinel")).WaitAsync(Timeout);

        Assert.Equal("group.message", await ReceiveTypeAsync(layer, stays));
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, leaves));
    }

    [Fact]
    public async Task A_channel_discarded_then_added_again_receives_group_messages_again()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupDiscardAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("after.readd")).WaitAsync(Timeout);

        Assert.Equal("after.readd", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Add_discard_add_discard_leaves_the_channel_out_of_the_group()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupDiscardAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupDiscardAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("ignored")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("normal")).WaitAsync(Timeout);

        Assert.Equal("normal", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Group_add_then_discard_issued_back_to_back_leave_the_channel_out_of_the_group()
    {
        // Issued the moment the layer is created, while it is still starting and connecting.
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");

        var add = layer.GroupAddAsync(group, channel);
        var discard = layer.GroupDiscardAsync(group, channel);
        await Task.WhenAll(add, discard).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("ignored")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Discarding_a_channel_that_is_not_a_member_does_nothing()
    {
        var layer = Layer();
        var member = await layer.NewChannelAsync();
        var stranger = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupDiscardAsync(Unique("never-used"), stranger).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, member).WaitAsync(Timeout);

        await layer.GroupDiscardAsync(group, stranger).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("still.bound")).WaitAsync(Timeout);
        await layer.SendAsync(stranger, Msg("sentinel")).WaitAsync(Timeout);

        Assert.Equal("still.bound", await ReceiveTypeAsync(layer, member));
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, stranger));
    }

    [Fact]
    public async Task Group_send_to_a_group_nobody_joined_completes()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");

        await layer.GroupSendAsync(group, Msg("message.1")).WaitAsync(Timeout);

        // Once someone joins, later messages arrive (and the earlier one does not).
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("message.2")).WaitAsync(Timeout);
        Assert.Equal("message.2", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task Group_add_is_idempotent()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("once")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);

        Assert.Equal("once", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_group_message_with_two_members_in_one_layer_reaches_each_once()
    {
        var layer = Layer();
        var a = await layer.NewChannelAsync();
        var b = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, a).WaitAsync(Timeout);
        await layer.GroupAddAsync(group, b).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("fan.out")).WaitAsync(Timeout);
        await layer.SendAsync(a, Msg("sentinel.a")).WaitAsync(Timeout);
        await layer.SendAsync(b, Msg("sentinel.b")).WaitAsync(Timeout);

        Assert.Equal(["fan.out", "sentinel.a"], [await ReceiveTypeAsync(layer, a), await ReceiveTypeAsync(layer, a)]);
        Assert.Equal(["fan.out", "sentinel.b"], [await ReceiveTypeAsync(layer, b), await ReceiveTypeAsync(layer, b)]);
    }

    [Fact]
    public async Task A_custom_groups_exchange_isolates_groups_from_the_default_exchange()
    {
        var onDefault = Layer();
        var onCustom = Layer(new LayerSettings { GroupsExchange = "test-groups-exchange" });
        var defaultChannel = await onDefault.NewChannelAsync();
        var customChannel = await onCustom.NewChannelAsync();
        var group = Unique("g");
        await onDefault.GroupAddAsync(group, defaultChannel).WaitAsync(Timeout);
        await onCustom.GroupAddAsync(group, customChannel).WaitAsync(Timeout);

        await onDefault.GroupSendAsync(group, Msg("on.default")).WaitAsync(Timeout);
        await onCustom.GroupSendAsync(group, Msg("on.custom")).WaitAsync(Timeout);
        await onDefault.SendAsync(customChannel, Msg("sentinel.custom")).WaitAsync(Timeout);
        await onCustom.SendAsync(defaultChannel, Msg("sentinel.default")).WaitAsync(Timeout);

        Assert.Equal(["on.default", "sentinel.default"],
            [await ReceiveTypeAsync(onDefault, defaultChannel), await ReceiveTypeAsync(onDefault, defaultChannel)]);
        Assert.Equal(["on.custom", "sentinel.custom"],
            [await ReceiveTypeAsync(onCustom, customChannel), await ReceiveTypeAsync(onCustom, customChannel)]);
    }

    // ------------------------------------------------------------------ capacity and expiry

    private static readonly LayerSettings OneAndOne = new() { LocalCapacity = 1, RemoteCapacity = 1 };

    [Fact]
    public async Task Send_beyond_remote_capacity_throws_ChannelFullException()
    {
        var layer = Layer(OneAndOne);
        var channel = await layer.NewChannelAsync();

        await layer.SendAsync(channel, Msg("message.1")).WaitAsync(Timeout); // prefetched into memory
        await layer.SendAsync(channel, Msg("message.2")).WaitAsync(Timeout); // waits in the queue

        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Msg("message.3")).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_full_channel_accepts_sends_again_once_messages_are_received()
    {
        var layer = Layer(OneAndOne);
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("message.1")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("message.2")).WaitAsync(Timeout);
        await Assert.ThrowsAsync<ChannelFullException>(() => layer.SendAsync(channel, Msg("message.3")).WaitAsync(Timeout));

        Assert.Equal("message.1", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("message.2", await ReceiveTypeAsync(layer, channel));
        await layer.SendAsync(channel, Msg("message.4")).WaitAsync(Timeout);

        Assert.Equal("message.4", await ReceiveTypeAsync(layer, channel)); // message.3 was refused, not queued
    }

    [Fact]
    public async Task The_back_pressure_warning_names_the_biggest_channels_and_their_counts()
    {
        var layer = Layer(new LayerSettings { LocalCapacity = 3 });
        var big = await layer.NewChannelAsync();
        var small = await layer.NewChannelAsync();

        await layer.SendAsync(big, Msg("a1")).WaitAsync(Timeout);
        await layer.SendAsync(big, Msg("a2")).WaitAsync(Timeout);
        await layer.SendAsync(small, Msg("b1")).WaitAsync(Timeout);

        var warning = await Log.WaitForWarningAsync("Back-pressuring", Timeout);
        Assert.Equal($"Back-pressuring. Biggest queues: {big} (2), {small} (1)", warning);
    }

    [Fact]
    public async Task Group_send_over_capacity_is_dropped_with_a_warning_and_no_exception()
    {
        var layer = Layer(OneAndOne);
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, Msg("message.1")).WaitAsync(Timeout); // prefetched into memory
        await layer.GroupSendAsync(group, Msg("message.2")).WaitAsync(Timeout); // waits in the queue
        await layer.GroupSendAsync(group, Msg("message.3")).WaitAsync(Timeout); // refused: no exception
        await layer.GroupSendAsync(group, Msg("message.4")).WaitAsync(Timeout); // refused: no exception

        Assert.Contains(group, await Log.WaitForWarningAsync(group, Timeout));
        Assert.Equal("message.1", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("message.2", await ReceiveTypeAsync(layer, channel));
        // Back below capacity: group messages flow again, and the refused ones are gone.
        await layer.GroupSendAsync(group, Msg("message.5")).WaitAsync(Timeout);
        Assert.Equal("message.5", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_message_not_received_within_Expiry_is_dropped()
    {
        var layer = Layer(new LayerSettings { Expiry = TimeSpan.FromMilliseconds(80) });
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("expires")).WaitAsync(Timeout);

        // The passing of time IS the behaviour under test: wait well past the 80 ms expiry.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await layer.SendAsync(channel, Msg("fresh")).WaitAsync(Timeout);

        Assert.Equal("fresh", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_message_waiting_in_the_remote_queue_longer_than_Expiry_is_dropped()
    {
        // LocalCapacity 1: the first message is held in memory (with a long local expiry), so the
        // second one waits in the broker's queue, where the 80 ms Expiry applies.
        var layer = Layer(new LayerSettings
        {
            LocalCapacity = 1,
            Expiry = TimeSpan.FromMilliseconds(80),
            LocalExpiry = TimeSpan.FromSeconds(30),
        });
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("held.in.memory")).WaitAsync(Timeout);
        await layer.SendAsync(channel, Msg("expires.remotely")).WaitAsync(Timeout);

        // The passing of time IS the behaviour under test: wait well past the 80 ms expiry.
        await Task.Delay(TimeSpan.FromMilliseconds(300));

        Assert.Equal("held.in.memory", await ReceiveTypeAsync(layer, channel));
        await layer.SendAsync(channel, Msg("fresh")).WaitAsync(Timeout);
        Assert.Equal("fresh", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_message_not_received_within_LocalExpiry_is_dropped_with_a_warning_and_frees_its_slot()
    {
        var layer = Layer(new LayerSettings { LocalCapacity = 1, LocalExpiry = TimeSpan.FromMilliseconds(20) });
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Msg("expires.locally")).WaitAsync(Timeout);

        await Log.WaitForWarningAsync("expired locally", Timeout);

        // With LocalCapacity 1 the next message can only arrive if the expired one was acked.
        var receive = layer.ReceiveAsync(channel);
        await layer.SendAsync(channel, Msg("next")).WaitAsync(Timeout);
        Assert.Equal("next", TypeOf(await receive.WaitAsync(Timeout)));
    }

    [Fact]
    public async Task A_group_message_with_no_local_member_is_acked()
    {
        var layer = Layer(new LayerSettings { LocalCapacity = 1 });
        var member = await layer.NewChannelAsync();
        var other = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, member).WaitAsync(Timeout);

        await layer.SendAsync(other, Msg("holds.the.slot")).WaitAsync(Timeout);    // prefetched, unreceived
        await layer.GroupSendAsync(group, Msg("orphan")).WaitAsync(Timeout);       // waits in the queue
        await layer.GroupDiscardAsync(group, member).WaitAsync(Timeout);           // ...and now has no member
        Assert.Equal("holds.the.slot", await ReceiveTypeAsync(layer, other));     // lets the orphan in

        // With LocalCapacity 1 the next message can only arrive if the orphan was acked.
        await layer.SendAsync(member, Msg("next")).WaitAsync(Timeout);
        Assert.Equal("next", await ReceiveTypeAsync(layer, member));
    }

    // ------------------------------------------------------------------ close

    [Fact]
    public async Task Receive_after_close_throws_ChannelLayerClosedException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        await layer.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.ReceiveAsync(channel).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Every_call_after_close_throws_ChannelLayerClosedException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await EnsureReadyAsync(layer);

        await layer.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.SendAsync(channel, Msg("x")).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupSendAsync("g", Msg("x")).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupAddAsync("g", channel).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupDiscardAsync("g", channel).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.NewChannelAsync().WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.ReceiveAsync(channel).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Close_completes_a_pending_receive_with_ChannelLayerClosedException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await EnsureReadyAsync(layer);
        var pending = layer.ReceiveAsync(channel);

        await layer.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => pending.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Close_right_after_every_kind_of_call_fails_the_calls_still_pending_without_deadlock()
    {
        // As the original's test_disconnect_at_same_time_as_everything: the layer has not even
        // connected yet. Each call either completed before the close or fails with
        // ChannelLayerClosedException; the receive (nothing was ever sent) must fail.
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        var calls = new Task[]
        {
            layer.SendAsync(channel, Msg("hi")),
            layer.GroupAddAsync(group, channel),
            layer.GroupSendAsync(group, Msg("ghi")),
            layer.GroupDiscardAsync(group, channel),
        };
        var receive = layer.ReceiveAsync(channel);

        await layer.CloseAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => receive.WaitAsync(Timeout));
        foreach (var call in calls)
        {
            var failure = await Record.ExceptionAsync(() => call.WaitAsync(Timeout));
            if (failure is not null) Assert.IsType<ChannelLayerClosedException>(failure);
        }
    }

    [Fact]
    public async Task Every_call_made_after_close_began_throws_ChannelLayerClosedException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        var close = layer.CloseAsync();

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.SendAsync(channel, Msg("hi")).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupAddAsync("g", channel).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupSendAsync("g", Msg("ghi")).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.GroupDiscardAsync("g", channel).WaitAsync(Timeout));
        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.ReceiveAsync(channel).WaitAsync(Timeout));
        await close.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Close_is_idempotent()
    {
        var layer = Layer();
        await EnsureReadyAsync(layer);

        var first = layer.CloseAsync();
        var second = layer.CloseAsync();
        await Task.WhenAll(first, second).WaitAsync(Timeout);

        await layer.CloseAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task DisposeAsync_closes_the_layer()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await EnsureReadyAsync(layer);

        await layer.DisposeAsync().AsTask().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ChannelLayerClosedException>(() => layer.ReceiveAsync(channel).WaitAsync(Timeout));
    }

    // ------------------------------------------------------------------ names

    public static TheoryData<string> InvalidChannelNames => new()
    {
        "=+135!", "", "has space!x", "a!b!c", "ümlaut!x", "trailing-newline!x\n", "!no-queue-part", "q!local/slash",
    };

    [Theory]
    [MemberData(nameof(InvalidChannelNames))]
    public async Task Invalid_channel_names_are_refused_with_ArgumentException(string channel)
    {
        var layer = Layer();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.SendAsync(channel, Msg("x")));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.ReceiveAsync(channel));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.GroupAddAsync("g", channel));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.GroupDiscardAsync("g", channel));
    }

    public static TheoryData<string> InvalidGroupNames => new()
    {
        "", "has space", "bang!", "ünicode", "tab\t", "slash/group", "trailing-newline\n",
    };

    [Theory]
    [MemberData(nameof(InvalidGroupNames))]
    public async Task Invalid_group_names_are_refused_with_ArgumentException(string group)
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.GroupAddAsync(group, channel));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.GroupDiscardAsync(group, channel));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => layer.GroupSendAsync(group, Msg("x")));
    }

    [Fact]
    public async Task Normal_channels_are_refused_with_NotSupportedException()
    {
        var layer = Layer();

        await Assert.ThrowsAsync<NotSupportedException>(() => layer.SendAsync("normal-channel", Msg("x")));
        await Assert.ThrowsAsync<NotSupportedException>(() => layer.ReceiveAsync("normal-channel"));
        await Assert.ThrowsAsync<NotSupportedException>(() => layer.GroupAddAsync("g", "normal-channel"));
    }

    [Fact]
    public async Task Receiving_on_a_channel_of_another_layer_throws_ArgumentException()
    {
        var mine = Layer();
        var theirs = Layer();
        var theirChannel = await theirs.NewChannelAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => mine.ReceiveAsync(theirChannel));
        await Assert.ThrowsAsync<ArgumentException>(() => mine.ReceiveAsync("not-client-prefix!local_part"));
    }

    private static string NameOfLength(string start, int length) => start + new string('x', length - start.Length);

    [Fact]
    public async Task A_channel_name_of_99_characters_is_accepted()
    {
        var queue = Unique("q");
        var layer = Layer(new LayerSettings { QueueName = queue });
        var channel = NameOfLength(queue + "!", 99);

        await layer.SendAsync(channel, Msg("long.name")).WaitAsync(Timeout);

        Assert.Equal("long.name", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_channel_name_of_100_characters_is_refused_with_ArgumentException()
    {
        var queue = Unique("q");
        var layer = Layer(new LayerSettings { QueueName = queue });
        var channel = NameOfLength(queue + "!", 100);

        await Assert.ThrowsAsync<ArgumentException>(() => layer.SendAsync(channel, Msg("x")));
        await Assert.ThrowsAsync<ArgumentException>(() => layer.ReceiveAsync(channel));
    }

    [Fact]
    public async Task A_group_name_of_99_characters_is_accepted()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = NameOfLength(Unique("g"), 99);

        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        await layer.GroupSendAsync(group, Msg("long.group")).WaitAsync(Timeout);

        Assert.Equal("long.group", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_group_name_of_100_characters_is_refused_with_ArgumentException()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = NameOfLength(Unique("g"), 100);

        await Assert.ThrowsAsync<ArgumentException>(() => layer.GroupAddAsync(group, channel));
        await Assert.ThrowsAsync<ArgumentException>(() => layer.GroupSendAsync(group, Msg("x")));
    }

    [GeneratedRegex(@"^[a-zA-Z\d\-_.]+![\d\w\-_.]*\z")]
    private static partial Regex ValidProcessSpecificChannel();

    [Fact]
    public async Task New_channel_names_are_valid_unique_and_start_with_the_layer_queue_name()
    {
        var queue = Unique("q");
        var layer = Layer(new LayerSettings { QueueName = queue });

        var names = new List<string>();
        for (var i = 0; i < 100; i++) names.Add(await layer.NewChannelAsync());
        names.Add(await layer.NewChannelAsync("websocket"));

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, name =>
        {
            Assert.StartsWith(queue + "!", name, StringComparison.Ordinal);
            Assert.Matches(ValidProcessSpecificChannel(), name);
            Assert.True(name.Length < 100, $"{name} is {name.Length} characters long");
        });
    }

    [Fact]
    public async Task Channels_of_two_layers_differ_in_their_queue_part()
    {
        var layer1 = Layer();
        var layer2 = Layer();

        var channel1 = await layer1.NewChannelAsync();
        var channel2 = await layer2.NewChannelAsync();

        Assert.NotEqual(channel1.Split('!')[0], channel2.Split('!')[0]);
    }

    [Fact]
    public void Extensions_are_exactly_groups()
    {
        var layer = Layer();

        Assert.Equal(["groups"], layer.Extensions);
    }

    // ------------------------------------------------------------------ message values

    [Theory]
    [InlineData("__asgi_channel__")]
    [InlineData("__asgi_group__")]
    public async Task A_message_holding_a_reserved_key_is_refused_before_publishing(string key)
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        var message = Msg("bad");
        message[key] = channel;

        await Assert.ThrowsAsync<ArgumentException>(() => layer.SendAsync(channel, message));
        await Assert.ThrowsAsync<ArgumentException>(() => layer.GroupSendAsync(group, message));

        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    private sealed class CustomObject
    {
        public string Name { get; } = "custom";
    }

    private enum Colour { Red }

    private static readonly Dictionary<string, object> UnsupportedValues = new()
    {
        ["DateTime"] = DateTime.UtcNow,
        ["DateTimeOffset"] = DateTimeOffset.UtcNow,
        ["Guid"] = Guid.NewGuid(),
        ["decimal"] = 1.5m,
        ["char"] = 'c',
        ["enum"] = Colour.Red,
        ["custom object"] = new CustomObject(),
        ["inside a list"] = new List<object?> { 1, new CustomObject() },
        ["inside a nested map"] = new Dictionary<string, object?> { ["inner"] = new Dictionary<string, object?> { ["when"] = DateTime.UtcNow } },
        ["map with non-string keys"] = new Dictionary<int, object?> { [1] = "one" },
    };

    public static TheoryData<string> UnsupportedValueCases => new(UnsupportedValues.Keys);

    [Theory]
    [MemberData(nameof(UnsupportedValueCases))]
    public async Task A_message_holding_an_unsupported_value_is_refused_before_publishing(string @case)
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        var message = Msg("bad");
        message["value"] = UnsupportedValues[@case];

        await Assert.ThrowsAsync<ArgumentException>(() => layer.SendAsync(channel, message));
        await Assert.ThrowsAsync<ArgumentException>(() => layer.GroupSendAsync(group, message));

        await layer.SendAsync(channel, Msg("sentinel")).WaitAsync(Timeout);
        Assert.Equal("sentinel", await ReceiveTypeAsync(layer, channel));
    }

    private static readonly byte[] SomeBytes = [0, 1, 2, 127, 128, 254, 255];

    /// <summary>What is sent, and what must come back (types included).</summary>
    private static readonly Dictionary<string, (object? Sent, object? Received)> RoundTrips = new()
    {
        ["string"] = ("Ahoy-hoy!", "Ahoy-hoy!"),
        ["empty string"] = ("", ""),
        ["unicode"] = ("héllo wörld ✓ 日本語 🎉 \u0000 end", "héllo wörld ✓ 日本語 🎉 \u0000 end"),
        ["long string"] = (new string('z', 100_000), new string('z', 100_000)),
        ["int"] = (42, 42L),
        ["negative int"] = (-42, -42L),
        ["zero"] = (0, 0L),
        ["byte"] = ((byte)200, 200L),
        ["sbyte"] = ((sbyte)-100, -100L),
        ["short"] = ((short)-30000, -30000L),
        ["ushort"] = ((ushort)60000, 60000L),
        ["uint max"] = (uint.MaxValue, 4294967295L),
        ["int min"] = (int.MinValue, (long)int.MinValue),
        ["long min"] = (long.MinValue, long.MinValue),
        ["long max"] = (long.MaxValue, long.MaxValue),
        ["ulong within long"] = ((ulong)long.MaxValue, long.MaxValue),
        ["double"] = (3.141592653589793, 3.141592653589793),
        ["double extremes"] = (new object?[] { double.MaxValue, double.MinValue, double.Epsilon, double.PositiveInfinity, double.NegativeInfinity, double.NaN },
            new object?[] { double.MaxValue, double.MinValue, double.Epsilon, double.PositiveInfinity, double.NegativeInfinity, double.NaN }),
        ["float"] = (1.5f, 1.5),
        ["true"] = (true, true),
        ["false"] = (false, false),
        ["null"] = (null, null),
        ["bytes"] = (SomeBytes, SomeBytes),
        ["empty bytes"] = (Array.Empty<byte>(), Array.Empty<byte>()),
        ["ReadOnlyMemory bytes"] = (new ReadOnlyMemory<byte>(SomeBytes), SomeBytes),
        ["list"] = (new List<object?> { 1, "two", null, true, 2.5, SomeBytes }, new object?[] { 1L, "two", null, true, 2.5, SomeBytes }),
        ["array"] = (new object?[] { 1, "two" }, new object?[] { 1L, "two" }),
        ["int array"] = (new[] { 1, 2, 3 }, new object?[] { 1L, 2L, 3L }),
        ["empty list"] = (new List<object?>(), Array.Empty<object?>()),
        ["nested map"] = (
            new Dictionary<string, object?> { ["a"] = new Dictionary<string, object?> { ["b"] = new List<object?> { 1, new Dictionary<string, object?> { ["c"] = null, ["d"] = "deep" } } } },
            new Dictionary<string, object?> { ["a"] = new Dictionary<string, object?> { ["b"] = new object?[] { 1L, new Dictionary<string, object?> { ["c"] = null, ["d"] = "deep" } } } }),
        ["empty map"] = (new Dictionary<string, object?>(), new Dictionary<string, object?>()),
        ["map of lists of maps"] = (
            new Dictionary<string, object?> { ["rows"] = new List<object?> { new Dictionary<string, object?> { ["id"] = 1, ["tags"] = new[] { "x", "y" } } } },
            new Dictionary<string, object?> { ["rows"] = new object?[] { new Dictionary<string, object?> { ["id"] = 1L, ["tags"] = new object?[] { "x", "y" } } } }),
        ["unicode map key"] = (new Dictionary<string, object?> { ["clé ✓"] = "v" }, new Dictionary<string, object?> { ["clé ✓"] = "v" }),
    };

    public static TheoryData<string> RoundTripCases => new(RoundTrips.Keys);

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public async Task A_message_value_round_trips_with_its_normalised_type(string @case)
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var (sent, expected) = RoundTrips[@case];
        var message = Msg("values");
        message["value"] = sent;

        await layer.SendAsync(channel, message).WaitAsync(Timeout);
        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.True(received.ContainsKey("value"), "the key is missing");
        AssertSameValue(expected, received["value"], "value");
    }

    [Fact]
    public async Task A_message_holding_every_supported_type_at_once_round_trips_through_a_group()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = Unique("g");
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);
        var message = Msg("everything");
        foreach (var (name, (sent, _)) in RoundTrips) message[name] = sent;

        await layer.GroupSendAsync(group, message).WaitAsync(Timeout);
        var received = await layer.ReceiveAsync(channel).WaitAsync(Timeout);

        Assert.Equal(message.Count, received.Count);
        foreach (var (name, (_, expected)) in RoundTrips) AssertSameValue(expected, received[name], name);
    }

    /// <summary>Deep equality that also checks the received value's normalised type.</summary>
    protected static void AssertSameValue(object? expected, object? actual, string path)
    {
        switch (expected)
        {
            case null:
                Assert.True(actual is null, $"{path}: expected null, got {Describe(actual)}");
                break;
            case byte[] bytes:
                Assert.True(actual is byte[], $"{path}: expected byte[], got {Describe(actual)}");
                Assert.Equal(bytes, (byte[])actual!);
                break;
            case IDictionary<string, object?> map:
                var actualMap = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(actual);
                Assert.Equal(map.Keys.Order(StringComparer.Ordinal), actualMap.Keys.Order(StringComparer.Ordinal));
                foreach (var (key, value) in map) AssertSameValue(value, actualMap[key], $"{path}.{key}");
                break;
            case object?[] list:
                var actualList = Assert.IsAssignableFrom<IReadOnlyList<object?>>(actual);
                Assert.Equal(list.Length, actualList.Count);
                for (var i = 0; i < list.Length; i++) AssertSameValue(list[i], actualList[i], $"{path}[{i}]");
                break;
            default:
                Assert.True(actual is not null && actual.GetType() == expected.GetType(),
                    $"{path}: expected {expected.GetType().Name} {expected}, got {Describe(actual)}");
                Assert.Equal(expected, actual);
                break;
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        ICollection c => $"{value.GetType().Name} of {c.Count}",
        _ => $"{value.GetType().Name} {value}",
    };
}
