using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

// ReadAllAsync (ChannelLayerStreamExtensions): a channel read as an IAsyncEnumerable, on every layer.
public abstract partial class ChannelLayerConformanceTests
{
    private sealed record StreamNote(string Text);

    [Fact]
    public async Task ReadAllAsync_yields_a_channels_messages_in_the_order_they_were_sent()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        for (var i = 0; i < 5; i++) await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);

        var read = new List<string>();
        await foreach (var message in layer.ReadAllAsync(channel).WithCancellation(new CancellationTokenSource(Timeout).Token))
        {
            read.Add(TypeOf(message));
            if (read.Count == 5) break;
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"m{i}"), read);
    }

    [Fact]
    public async Task Leaving_a_ReadAllAsync_loop_takes_nothing_more_from_the_channel()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        for (var i = 0; i < 3; i++) await layer.SendAsync(channel, Msg($"m{i}")).WaitAsync(Timeout);

        await foreach (var message in layer.ReadAllAsync(channel).WithCancellation(new CancellationTokenSource(Timeout).Token))
        {
            Assert.Equal("m0", TypeOf(message));
            break;
        }

        Assert.Equal("m1", await ReceiveTypeAsync(layer, channel));
        Assert.Equal("m2", await ReceiveTypeAsync(layer, channel));
    }

    [Fact]
    public async Task A_ReadAllAsync_cancelled_while_it_waits_takes_nothing_and_the_next_reader_gets_the_next_message()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        using var cts = new CancellationTokenSource();
        await using var reader = layer.ReadAllAsync(channel, cts.Token).GetAsyncEnumerator();
        var waiting = reader.MoveNextAsync().AsTask();
        Assert.False(waiting.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Timeout));
        await layer.SendAsync(channel, Msg("next")).WaitAsync(Timeout);

        await using var next = layer.ReadAllAsync(channel, new CancellationTokenSource(Timeout).Token).GetAsyncEnumerator();
        Assert.True(await next.MoveNextAsync());
        Assert.Equal("next", TypeOf(next.Current));
    }

    [Fact]
    public async Task ReadAllAsync_ends_when_the_layer_closes()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await EnsureReadyAsync(layer);
        await using var reader = layer.ReadAllAsync(channel).GetAsyncEnumerator();
        var waiting = reader.MoveNextAsync().AsTask();

        await layer.CloseAsync().WaitAsync(Timeout);

        Assert.False(await waiting.WaitAsync(Timeout));
    }

    [Fact]
    public async Task ReadAllAsync_of_a_record_type_maps_each_message()
    {
        var layer = Layer();
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, new StreamNote("one")).WaitAsync(Timeout);
        await layer.SendAsync(channel, new StreamNote("two")).WaitAsync(Timeout);

        var read = new List<string>();
        await foreach (var note in layer.ReadAllAsync<StreamNote>(channel).WithCancellation(new CancellationTokenSource(Timeout).Token))
        {
            read.Add(note.Text);
            if (read.Count == 2) break;
        }

        Assert.Equal(["one", "two"], read);
    }

    [Fact]
    public void ReadAllAsync_of_a_type_that_cannot_be_read_throws_at_once()
    {
        var layer = Layer();
        Assert.Throws<ArgumentException>(() => layer.ReadAllAsync<List<int>>("q!c"));
    }
}
