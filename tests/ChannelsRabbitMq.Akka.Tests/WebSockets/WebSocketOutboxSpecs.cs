using System.Net.WebSockets;
using System.Text;
using ChannelsRabbitMq.Akka.WebSockets;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.WebSockets;

/// <summary>
/// <see cref="WebSocketOutbox"/> on its own: its capacity, what a full or closed outbox does
/// with a frame, and that frames come out in order and the reader ends after a close.
/// </summary>
public sealed class WebSocketOutboxSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static byte[] Frame(string text) => Encoding.UTF8.GetBytes(text);

    private static async Task<List<string>> ReadAllAsync(WebSocketOutbox outbox)
    {
        var read = new List<string>();
        await foreach (var frame in outbox.Frames.ReadAllAsync().WithCancellation(new CancellationTokenSource(Timeout).Token))
            read.Add(Encoding.UTF8.GetString(frame));
        return read;
    }

    [Fact]
    public async Task A_post_beyond_the_capacity_is_refused_and_closes_the_outbox_as_too_slow_after_the_frames_it_holds()
    {
        var outbox = new WebSocketOutbox(capacity: 3);
        Assert.True(outbox.TryPost(Frame("a")));
        Assert.True(outbox.TryPost(Frame("b")));
        Assert.True(outbox.TryPost(Frame("c")));

        Assert.False(outbox.TryPost(Frame("d")));

        Assert.True(outbox.IsClosed);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, outbox.CloseReason.Status);
        Assert.Contains("too slow", outbox.CloseReason.Description, StringComparison.Ordinal);
        Assert.Equal(["a", "b", "c"], await ReadAllAsync(outbox));
    }

    [Fact]
    public async Task A_frame_read_frees_its_place()
    {
        var outbox = new WebSocketOutbox(capacity: 2);
        Assert.True(outbox.TryPost(Frame("a")));
        Assert.True(outbox.TryPost(Frame("b")));
        Assert.True(outbox.Frames.TryRead(out var first));
        Assert.Equal("a", Encoding.UTF8.GetString(first));

        Assert.True(outbox.TryPost(Frame("c")));
        Assert.False(outbox.IsClosed);

        outbox.Close(WebSocketCloseStatus.NormalClosure, "done");
        Assert.Equal(["b", "c"], await ReadAllAsync(outbox));
    }

    [Fact]
    public async Task A_post_to_a_closed_outbox_is_refused_and_keeps_the_first_close_reason()
    {
        var outbox = new WebSocketOutbox(capacity: 2);
        Assert.True(outbox.TryPost(Frame("a")));
        outbox.Close(WebSocketCloseStatus.NormalClosure, "bye");

        Assert.False(outbox.TryPost(Frame("b")));

        Assert.Equal((WebSocketCloseStatus.NormalClosure, "bye"), outbox.CloseReason);
        Assert.Equal(["a"], await ReadAllAsync(outbox));
    }

    [Fact]
    public async Task Posters_racing_for_the_last_places_never_put_more_than_the_capacity_in()
    {
        const int capacity = 64;
        var outbox = new WebSocketOutbox(capacity);
        using var start = new Barrier(4);
        var accepted = await Task.WhenAll(Enumerable.Range(0, 4).Select(poster => Task.Run(() =>
        {
            start.SignalAndWait();
            var mine = 0;
            for (var i = 0; i < capacity; i++)
                if (outbox.TryPost(Frame($"{poster}:{i}"))) mine++;
            return mine;
        })));

        Assert.Equal(capacity, accepted.Sum());
        Assert.True(outbox.IsClosed);
        var read = await ReadAllAsync(outbox);
        Assert.Equal(capacity, read.Count);
        // Each poster's accepted frames come out in the order it posted them.
        foreach (var poster in read.GroupBy(f => f.Split(':')[0]))
        {
            var numbers = poster.Select(f => int.Parse(f.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(numbers.Order(), numbers);
        }
    }

    [Fact]
    public async Task A_reader_waiting_on_an_empty_outbox_gets_the_next_frame_and_ends_at_the_close()
    {
        var outbox = new WebSocketOutbox(capacity: 4);
        var reading = ReadAllAsync(outbox);
        Assert.False(reading.IsCompleted);

        Assert.True(outbox.TryPost(Frame("x")));
        Assert.True(outbox.TryPost(Frame("y")));
        outbox.Close(WebSocketCloseStatus.NormalClosure, "done");

        Assert.Equal(["x", "y"], await reading.WaitAsync(Timeout));
    }
}
