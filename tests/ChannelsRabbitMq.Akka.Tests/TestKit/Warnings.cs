using Akka.Event;
using Akka.TestKit;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// Watches an actor system's log lines of every level from the moment it is created, so a spec
/// can await "at least N lines containing …" (an event, not a sleep) without Akka's EventFilter,
/// which asserts an exact count. (A recurring connection failure is a Warning or an Error the
/// first time, then Debug.)
/// </summary>
internal sealed class Warnings
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TestProbe _probe;

    public Warnings(TestKitBase kit)
    {
        _probe = kit.CreateTestProbe();
        kit.Sys.EventStream.Subscribe(_probe.Ref, typeof(LogEvent));
    }

    /// <summary>Waits for <paramref name="count"/> more log lines containing <paramref name="fragment"/>; returns their texts.</summary>
    public async Task<IReadOnlyList<string>> WaitForAsync(string fragment, int count = 1)
    {
        var texts = new List<string>();
        while (texts.Count < count)
        {
            var warning = await _probe.FishForMessageAsync<LogEvent>(
                w => w.Message?.ToString()?.Contains(fragment, StringComparison.Ordinal) == true, Timeout);
            texts.Add(warning.Message!.ToString()!);
        }
        return texts;
    }
}
