using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Actors;

/// <summary>
/// What the hot path allocates, pinned where it is exact: counted with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> on the calling thread, so other threads'
/// work does not count and the figure does not depend on the machine's speed.
/// </summary>
/// <remarks>
/// Alone in its collection: a metrics or trace listener another test starts (they are
/// process-wide) makes the layer record measurements, which allocate.
/// </remarks>
[Collection(Name)]
public sealed class HotPathAllocationSpecs(ITestOutputHelper output) : FakeBrokerSpec(output)
{
    public const string Name = "Hot path allocations (runs alone)";

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class RunsAlone;

    [Fact]
    public async Task A_receive_that_takes_a_buffered_copy_allocates_only_its_completed_task()
    {
        var layer = NewLayer();
        await using var _ = layer;
        var channel = await layer.NewChannelAsync();
        await layer.SendAsync(channel, Message("first"));
        Assert.Equal("first", (await layer.ReceiveAsync(channel).WaitAsync(Timeout))["text"]); // the inbox lives now
        await layer.SendAsync(channel, Message("second"));
        await layer.SendAsync(channel, Message("third"));
        await AwaitConditionAsync(() => Task.FromResult(layer.LiveInbox(channel)?.Count == 2), Timeout);

        var second = layer.ReceiveAsync(channel); // the first call of this path on this thread: warms it up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var third = layer.ReceiveAsync(channel);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(second.IsCompletedSuccessfully && third.IsCompletedSuccessfully, "both were buffered");
        var message = await third;
        Assert.Equal("third", message["text"]);
        var taskSize = SizeOfACompletedTask(message);
        Assert.True(allocated <= taskSize, $"a receive of a buffered copy allocated {allocated} B; its completed task is {taskSize} B");
    }

    private static long SizeOfACompletedTask(IReadOnlyDictionary<string, object?> result)
    {
        GC.KeepAlive(Task.FromResult(result));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var task = Task.FromResult(result);
        var size = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(task);
        return size;
    }
}
