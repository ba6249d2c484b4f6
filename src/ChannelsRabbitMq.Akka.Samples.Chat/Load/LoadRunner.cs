using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Load;

/// <summary>
/// Runs a load test against chat servers: connects the simulated clients (each a
/// <see cref="ClientWebSocket"/> on <c>/ws</c>), waits until every one has joined its room,
/// lets them send at the requested rate, waits for the deliveries in flight and counts what
/// arrived. Client <c>i</c> uses server <c>i % servers</c> and room <c>(i / servers) % rooms</c>,
/// so each room has clients on every server and every message crosses the broker.
/// </summary>
public static class LoadRunner
{
    private const string Prefix = "load";

    /// <summary>Runs a load test; <paramref name="progress"/> is called every <paramref name="progressInterval"/> (default 250 ms).</summary>
    /// <exception cref="ArgumentException">An option is out of bounds.</exception>
    /// <exception cref="TimeoutException">The clients did not all join within <see cref="LoadOptions.ConnectTimeout"/>.</exception>
    public static async Task<LoadReport> RunAsync(LoadOptions options, Action<LoadProgress>? progress = null,
        TimeSpan? progressInterval = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var run = new Run(options);
        using var stopTicker = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ticker = progress is null
            ? Task.CompletedTask
            : TickAsync(run, progress, progressInterval ?? TimeSpan.FromMilliseconds(250), stopTicker.Token);
        try
        {
            await run.ConnectAsync(cancellationToken);
            await run.SettleAsync(cancellationToken);
            await run.SendAsync(cancellationToken);
            await run.DrainAsync(cancellationToken);
            return run.Report();
        }
        finally
        {
            await run.CloseAsync();
            await stopTicker.CancelAsync();
            await ticker;
            progress?.Invoke(run.Snapshot(final: true));
        }
    }

    private static async Task TickAsync(Run run, Action<LoadProgress> progress, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
                progress(run.Snapshot());
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Run
    {
        private readonly LoadOptions _options;
        private readonly string _runId = RandomId();
        private readonly Client[] _clients;
        private readonly int[] _roomSizes;
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly object _latencyGate = new();
        private readonly List<double> _latencies = [];
        private List<double> _recentLatencies = [];
        private LatencySummary _lastLatencies = LatencySummary.Empty;
        private volatile string _phase = "connecting";
        private readonly bool _signalR;
        private int _connected;
        private long _sent;
        private long _expected;
        private long _delivered;
        private long _duplicates;
        private long _errors;
        private long _sendStarted;
        private long _sendEnded;
        private volatile bool _closing;

        public Run(LoadOptions options)
        {
            _options = options;
            _signalR = options.Dialect == LoadDialect.SignalR;
            options.OnPhase?.Invoke(_phase);
            var servers = options.Servers.Count;
            _roomSizes = new int[options.Rooms];
            _clients = new Client[options.Clients];
            for (var i = 0; i < _clients.Length; i++)
            {
                var room = i / servers % options.Rooms;
                _roomSizes[room]++;
                _clients[i] = new Client(i, options.Servers[i % servers], room);
            }
        }

        private string RoomName(int room) => $"{Prefix}-{_runId}-{room}";

        private void SetPhase(string phase)
        {
            _phase = phase;
            _options.OnPhase?.Invoke(phase);
        }

        // After every client has joined: a pause, for systems whose subscriptions spread in the background.
        public async Task SettleAsync(CancellationToken cancellationToken)
        {
            if (_options.Settle <= TimeSpan.Zero) return;
            SetPhase("settling");
            await Task.Delay(_options.Settle, cancellationToken);
        }

        public async Task ConnectAsync(CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.ConnectTimeout);
            try
            {
                await Parallel.ForEachAsync(_clients, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = timeout.Token },
                    async (client, ct) =>
                    {
                        var uri = new UriBuilder(client.Server)
                        {
                            Scheme = "ws",
                            Path = _signalR ? "/hub" : "/ws",
                            Query = $"room={RoomName(client.Room)}&user={Prefix}-{client.Index}",
                        }.Uri;
                        await client.Socket.ConnectAsync(uri, ct);
                        if (_signalR) await client.Socket.SendAsync(SignalRFrames.Handshake, WebSocketMessageType.Text, true, ct);
                        client.Receiving = ReceiveLoopAsync(client);
                        await client.Joined.Task.WaitAsync(ct);
                        Interlocked.Increment(ref _connected);
                    });
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(
                    $"Only {Volatile.Read(ref _connected)} of {_clients.Length} clients had joined their rooms after {_options.ConnectTimeout.TotalSeconds:0} s.");
            }
            catch (WebSocketException e)
            {
                throw new WebSocketException($"A client could not connect: {e.Message} (are the servers up?)", e);
            }
        }

        public async Task SendAsync(CancellationToken cancellationToken)
        {
            SetPhase("sending");
            var start = Stopwatch.GetTimestamp();
            Volatile.Write(ref _sendStarted, start);
            var interval = TimeSpan.FromSeconds(_clients.Length / _options.Rate);
            await Task.WhenAll(_clients.Select(c => SendLoopAsync(c, start, interval, cancellationToken)));
            Volatile.Write(ref _sendEnded, Stopwatch.GetTimestamp());
        }

        private async Task SendLoopAsync(Client client, long start, TimeSpan interval, CancellationToken cancellationToken)
        {
            // Client i sends at offset i/N of an interval, then every interval: N clients make the rate.
            var offset = interval * client.Index / _clients.Length;
            for (long seq = 0; ; seq++)
            {
                var due = offset + interval * seq;
                if (due >= _options.Duration) return;
                var wait = due - Stopwatch.GetElapsedTime(start);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
                if (client.Socket.State != WebSocketState.Open) return;
                var text = $"{Prefix} {_runId} {client.Index} {seq} {Stopwatch.GetTimestamp()}";
                var frame = _signalR ? SignalRFrames.Send(text) : JsonSerializer.SerializeToUtf8Bytes(new PostedMessage(text), Frames.Json);
                Interlocked.Add(ref _expected, _roomSizes[client.Room]);
                try
                {
                    await client.SendAsync(frame, cancellationToken);
                    Interlocked.Increment(ref _sent);
                }
                catch (WebSocketException)
                {
                    Interlocked.Add(ref _expected, -_roomSizes[client.Room]);
                    Interlocked.Increment(ref _errors);
                    return;
                }
            }
        }

        public async Task DrainAsync(CancellationToken cancellationToken)
        {
            SetPhase("draining");
            var deadline = Stopwatch.GetTimestamp() + (long)(_options.DrainTimeout.TotalSeconds * Stopwatch.Frequency);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (Interlocked.Read(ref _delivered) < Interlocked.Read(ref _expected) && Stopwatch.GetTimestamp() < deadline)
                await timer.WaitForNextTickAsync(cancellationToken);
        }

        public async Task CloseAsync()
        {
            SetPhase("closing");
            _closing = true;
            await Task.WhenAll(_clients.Select(CloseClientAsync));
            SetPhase("done");
        }

        private static async Task CloseClientAsync(Client client)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                if (client.Socket.State == WebSocketState.Open)
                    await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "load run done", timeout.Token);
                if (client.Receiving is { } receiving) await receiving.WaitAsync(timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                client.Socket.Abort();
            }
            finally
            {
                client.Socket.Dispose();
            }
        }

        private async Task ReceiveLoopAsync(Client client)
        {
            var buffer = new byte[8192];
            using var message = new MemoryStream();
            try
            {
                while (true)
                {
                    message.SetLength(0);
                    WebSocketReceiveResult result;
                    do
                    {
                        result = await client.Socket.ReceiveAsync(buffer, CancellationToken.None);
                        message.Write(buffer, 0, result.Count);
                    } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (!_closing) client.Disconnected = true;
                        if (client.Socket.State == WebSocketState.CloseReceived)
                            await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                        return;
                    }
                    var received = message.GetBuffer().AsMemory(0, (int)message.Length);
                    if (_signalR) await HandleSignalRAsync(client, received);
                    else Handle(client, received);
                }
            }
            catch (WebSocketException)
            {
                if (!_closing) client.Disconnected = true;
            }
            finally
            {
                client.Joined.TrySetException(new WebSocketException("The connection closed before the client joined its room."));
            }
        }

        private void Handle(Client client, ReadOnlyMemory<byte> json)
        {
            using var document = JsonDocument.Parse(json);
            Handle(client, document.RootElement);
        }

        // SignalR's JSON hub protocol: records ended by 0x1E; the handshake answer ({} or
        // {"error": …}), invocations (type 1) whose one argument is the demo's frame, pings (type
        // 6, answered so the server's client timeout never fires), close (type 7).
        private async Task HandleSignalRAsync(Client client, ReadOnlyMemory<byte> records)
        {
            while (records.Length > 0)
            {
                var end = records.Span.IndexOf(SignalRFrames.RecordSeparator);
                var record = end < 0 ? records : records[..end];
                records = end < 0 ? ReadOnlyMemory<byte>.Empty : records[(end + 1)..];
                using var document = JsonDocument.Parse(record);
                var root = document.RootElement;
                if (!root.TryGetProperty("type", out var type))
                {
                    if (root.TryGetProperty("error", out var error))
                        client.Joined.TrySetException(new WebSocketException($"SignalR handshake refused: {error}"));
                    continue;
                }
                switch (type.GetInt32())
                {
                    case 1 when root.GetProperty("arguments") is { ValueKind: JsonValueKind.Array } arguments && arguments.GetArrayLength() == 1:
                        Handle(client, arguments[0]);
                        break;
                    case 6:
                        await client.SendAsync(SignalRFrames.Ping, CancellationToken.None);
                        break;
                    case 7:
                        break;
                    default:
                        Interlocked.Increment(ref _errors);
                        break;
                }
            }
        }

        private void Handle(Client client, JsonElement root)
        {
            switch (root.GetProperty("type").GetString())
            {
                case "joined":
                    client.Joined.TrySetResult();
                    break;
                case "message":
                    // "load {run} {sender} {seq} {timestamp}"; anything else is someone else's.
                    var parts = (root.GetProperty("text").GetString() ?? "").Split(' ');
                    if (parts is not [Prefix, var runId, var sender, var seq, var timestamp] || runId != _runId) return;
                    var received = Stopwatch.GetTimestamp();
                    var key = (long.Parse(sender) << 32) | long.Parse(seq);
                    if (!client.Seen.Add(key))
                    {
                        Interlocked.Increment(ref _duplicates);
                        return;
                    }
                    Interlocked.Increment(ref _delivered);
                    var sentAt = long.Parse(timestamp);
                    _options.OnDelivery?.Invoke(sentAt, received);
                    var latency = Stopwatch.GetElapsedTime(sentAt, received).TotalMilliseconds;
                    lock (_latencyGate)
                    {
                        _latencies.Add(latency);
                        _recentLatencies.Add(latency);
                    }
                    break;
                default:
                    Interlocked.Increment(ref _errors);
                    break;
            }
        }

        // For the live line: the latencies since the previous snapshot that had any (the final
        // snapshot: every latency of the run).
        public LoadProgress Snapshot(bool final = false)
        {
            double[] samples;
            lock (_latencyGate)
            {
                samples = final ? _latencies.ToArray() : _recentLatencies.ToArray();
                _recentLatencies = [];
            }
            var latencies = samples.Length > 0 || final ? LatencySummary.Of(samples) : _lastLatencies;
            _lastLatencies = latencies;
            return new LoadProgress(_phase, Stopwatch.GetElapsedTime(_started), Volatile.Read(ref _connected), _clients.Length,
                Interlocked.Read(ref _sent), Interlocked.Read(ref _expected), Interlocked.Read(ref _delivered), Interlocked.Read(ref _errors),
                latencies);
        }

        public LoadReport Report()
        {
            double[] all;
            lock (_latencyGate) all = _latencies.ToArray();
            var sendDuration = Stopwatch.GetElapsedTime(Volatile.Read(ref _sendStarted), Volatile.Read(ref _sendEnded));
            return new LoadReport(_clients.Length, _options.Servers.Count, _options.Rooms, _options.Rate, sendDuration,
                Interlocked.Read(ref _sent), Interlocked.Read(ref _expected), Interlocked.Read(ref _delivered),
                Interlocked.Read(ref _duplicates), Interlocked.Read(ref _errors), _clients.Count(c => c.Disconnected),
                LatencySummary.Of(all));
        }

        private static string RandomId()
        {
            var letters = new StringBuilder(6);
            for (var i = 0; i < 6; i++) letters.Append((char)('a' + Random.Shared.Next(26)));
            return letters.ToString();
        }
    }

    private sealed class Client(int index, Uri server, int room)
    {
        // One send at a time on a websocket: the send loop and (SignalR) the ping answers share it.
        private readonly SemaphoreSlim _sending = new(1, 1);

        public async Task SendAsync(byte[] frame, CancellationToken cancellationToken)
        {
            await _sending.WaitAsync(cancellationToken);
            try
            {
                await Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
            finally
            {
                _sending.Release();
            }
        }

        public int Index { get; } = index;
        public Uri Server { get; } = server;
        public int Room { get; } = room;
        public ClientWebSocket Socket { get; } = new();
        public TaskCompletionSource Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public HashSet<long> Seen { get; } = [];
        public Task? Receiving { get; set; }
        public volatile bool Disconnected;
    }
}

/// <summary>The few records of SignalR's JSON hub protocol (version 1) the load client sends.</summary>
internal static class SignalRFrames
{
    public const byte RecordSeparator = 0x1E;

    public static readonly byte[] Handshake = Record("""{"protocol":"json","version":1}""");

    public static readonly byte[] Ping = Record("""{"type":6}""");

    /// <summary>A non-blocking invocation of the hub's <c>Send(text)</c> (no invocation id: no completion comes back).</summary>
    public static byte[] Send(string text) =>
        Record(JsonSerializer.Serialize(new { type = 1, target = "Send", arguments = new[] { text } }));

    private static byte[] Record(string json) => [.. Encoding.UTF8.GetBytes(json), RecordSeparator];
}
