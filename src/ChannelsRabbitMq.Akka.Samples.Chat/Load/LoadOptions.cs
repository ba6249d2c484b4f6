using System.Net;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Load;

/// <summary>
/// A load run: <see cref="Clients"/> websocket clients spread over <see cref="Servers"/> and
/// <see cref="Rooms"/>, sending <see cref="Rate"/> messages per second in total for
/// <see cref="Duration"/>. Bounded: loopback servers only, and limits on every number.
/// </summary>
public sealed record LoadOptions
{
    /// <summary>Most clients in one run.</summary>
    public const int MaxClients = 2000;

    /// <summary>Highest total send rate, messages per second.</summary>
    public const double MaxRate = 20_000;

    /// <summary>Most messages sent in one run.</summary>
    public const int MaxMessages = 1_000_000;

    /// <summary>Most deliveries (messages × clients per room) in one run: each one's latency is kept.</summary>
    public const int MaxDeliveries = 10_000_000;

    /// <summary>Longest send phase.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(10);

    /// <summary>The chat servers (<c>http://127.0.0.1:5101</c>); client <c>i</c> connects to server <c>i % count</c>.</summary>
    public required IReadOnlyList<Uri> Servers { get; init; }

    /// <summary>Simulated websocket clients.</summary>
    public int Clients { get; init; } = 50;

    /// <summary>Rooms; every room has clients on every server when there are enough clients.</summary>
    public int Rooms { get; init; } = 5;

    /// <summary>Messages per second, all clients together.</summary>
    public double Rate { get; init; } = 100;

    /// <summary>How long the clients send.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait, after the last send, for the deliveries still in flight.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the clients may take to connect and join their rooms.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The protocol the servers speak (default: the demo's own websocket protocol on <c>/ws</c>).</summary>
    public LoadDialect Dialect { get; init; } = LoadDialect.Chat;

    /// <summary>How long to wait, once every client has joined, before sending (default 0; the comparison's peers need it, see docs/performance.md).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.Zero;

    /// <summary>Called on every first delivery with the send and receipt <see cref="System.Diagnostics.Stopwatch"/> timestamps (from the receiving threads, concurrently).</summary>
    public Action<long, long>? OnDelivery { get; init; }

    /// <summary>Called when the run enters a phase (connecting, sending, draining, closing, done).</summary>
    public Action<string>? OnPhase { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of bounds.</summary>
    public void Validate()
    {
        if (Servers.Count == 0) throw new ArgumentException("Name at least one server.");
        foreach (var server in Servers)
        {
            if (server.Scheme is not ("http" or "ws"))
                throw new ArgumentException($"Server {server}: use http://127.0.0.1:PORT.");
            if (!IsLoopback(server))
                throw new ArgumentException($"Server {server} is not on this machine: the load client only targets loopback (127.0.0.1, localhost, [::1]).");
        }
        if (Clients is < 1 or > MaxClients) throw new ArgumentException($"Clients must be 1 to {MaxClients}.");
        if (Rooms < 1 || Rooms > Clients) throw new ArgumentException("Rooms must be 1 to the number of clients.");
        if (!(Rate > 0 && Rate <= MaxRate)) throw new ArgumentException($"Rate must be above 0 and at most {MaxRate} messages per second.");
        if (Duration <= TimeSpan.Zero || Duration > MaxDuration) throw new ArgumentException($"Duration must be above 0 and at most {MaxDuration.TotalMinutes} minutes.");
        if (Rate * Duration.TotalSeconds > MaxMessages)
            throw new ArgumentException($"Rate × duration is {Rate * Duration.TotalSeconds:0} messages; a run sends at most {MaxMessages}.");
        if (Rate * Duration.TotalSeconds * Math.Ceiling(Clients / (double)Rooms) > MaxDeliveries)
            throw new ArgumentException($"Rate × duration × clients per room is over {MaxDeliveries} deliveries; use fewer clients per room, a lower rate or a shorter run.");
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > TimeSpan.FromMinutes(1)) throw new ArgumentException("DrainTimeout must be 0 to 60 seconds.");
        if (Settle < TimeSpan.Zero || Settle > TimeSpan.FromMinutes(1)) throw new ArgumentException("Settle must be 0 to 60 seconds.");
        if (ConnectTimeout <= TimeSpan.Zero || ConnectTimeout > TimeSpan.FromMinutes(5)) throw new ArgumentException("ConnectTimeout must be above 0 and at most 5 minutes.");
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
}

/// <summary>What the load client speaks to the servers.</summary>
public enum LoadDialect
{
    /// <summary>The demo's protocol: a websocket on <c>/ws?room=…&amp;user=…</c>, JSON frames <c>{"text": …}</c> out, <c>{"type": "joined" | "message", …}</c> in.</summary>
    Chat,

    /// <summary>
    /// The same chat as a SignalR hub on <c>/hub?room=…&amp;user=…</c>: SignalR's JSON hub protocol
    /// straight over the websocket (as the SignalR clients do with negotiation skipped): invocations
    /// <c>Send(text)</c> out, <c>joined(frame)</c> and <c>message(frame)</c> in, the frames as the demo's.
    /// </summary>
    SignalR,
}
