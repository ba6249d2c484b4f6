namespace ChannelsRabbitMq.Akka.Hosting.Tests;

/// <summary>Polls for a state that arrives by itself (a connection, a clock running out), bounded by a timeout.</summary>
internal static class Eventually
{
    /// <summary>A safety net for awaits that should complete quickly: never a synchronisation.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Probes every 50 ms until <paramref name="done"/> holds; returns the last probe, or fails after <paramref name="timeout"/>.</summary>
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Still not {what} after {(timeout ?? Timeout).TotalSeconds} s; last: {value}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    public static Task Until(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Until(() => Task.FromResult(condition()), ok => ok, what, timeout);
}
