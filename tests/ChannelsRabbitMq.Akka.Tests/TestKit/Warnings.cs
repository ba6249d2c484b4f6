using Akka.Event;
using Akka.TestKit;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// Watches an actor system's warnings from the moment it is created, so a spec can await
/// "at least N warnings containing …" (an event, not a sleep) without Akka's EventFilter, which
/// asserts an exact count.
/// </summary>
internal sealed class Warnings
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TestProbe _probe;

    public Warnings(TestKitBase kit)
    {
        _probe = kit.CreateTestProbe();
        kit.Sys.EventStream.Subscribe(_probe.Ref, typeof(Warning));
    }

    /// <summary>Waits for <paramref name="count"/> more warnings containing <paramref name="fragment"/>; returns their texts.</summary>
    public async Task<IReadOnlyList<string>> WaitForAsync(string fragment, int count = 1)
    {
        var texts = new List<string>();
        while (texts.Count < count)
        {
            var warning = await _probe.FishForMessageAsync<Warning>(
                w => w.Message?.ToString()?.Contains(fragment, StringComparison.Ordinal) == true, Timeout);
            texts.Add(warning.Message!.ToString()!);
        }
        return texts;
    }
}
