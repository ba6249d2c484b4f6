using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace ChannelsRabbitMq.Akka.Benchmarks;

/// <summary>
/// A sampling allocation profile of this process (<c>--alloc-profile</c>): the runtime reports an
/// <c>AllocationTick</c> about every 100 KB allocated, naming the type of the object that crossed
/// the threshold, so the counts are proportional to the bytes allocated per type.
/// </summary>
internal sealed class AllocationProfiler : EventListener
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    private readonly ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);
    private volatile bool _enabled;

    public void Start() => _enabled = true;

    public void Stop() => _enabled = false;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeProvider) EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_enabled || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal)) return;
        if (eventData.PayloadNames is null || eventData.Payload is null) return;
        int typeIndex = eventData.PayloadNames.IndexOf("TypeName");
        int amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
        if (typeIndex < 0) return;
        var type = eventData.Payload[typeIndex] as string ?? "?";
        long amount = amountIndex >= 0 && eventData.Payload[amountIndex] is ulong a ? (long)a : 100_000;
        _bytesByType.AddOrUpdate(type, amount, (_, total) => total + amount);
    }

    /// <summary>The types that account for most of the allocated bytes, biggest first.</summary>
    public void Report(TextWriter output, int top = 30)
    {
        long total = _bytesByType.Values.Sum();
        if (total == 0)
        {
            output.WriteLine("  allocation profile: no samples");
            return;
        }
        output.WriteLine($"  allocation profile (sampled every ~100 KB; {total / 1e6:0.0} MB attributed):");
        foreach (var (type, bytes) in _bytesByType.OrderByDescending(p => p.Value).Take(top))
            output.WriteLine($"    {bytes * 100.0 / total,5:0.0}%  {type}");
    }
}
