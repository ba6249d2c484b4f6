using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// Four layers exchange direct and group traffic while the broker closes their connections
/// (<c>rabbitmqctl close_connection</c>, by connection name) again and again. Runs on the shared
/// test node: only this test's own connections are ever closed.
/// </summary>
/// <remarks>
/// <c>CHANNELS_RABBITMQ_RELIABILITY_KILLS</c> overrides the number of kills of each case (the
/// soak script raises it); figures go to the test output and, with
/// <c>CHANNELS_RABBITMQ_RELIABILITY_REPORT</c>, to that file.
/// </remarks>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerKillCollection
{
    /// <summary>
    /// Runs alone, after the parallel tests: its memory-growth check reads the process-wide heap,
    /// which other tests (a 65 MiB body, say) would otherwise inflate.
    /// </summary>
    public const string Name = "broker-side kills (alone)";
}

[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
[Collection(BrokerKillCollection.Name)]
public sealed class BrokerKillTests(ITestOutputHelper output)
{
    private const int LayerCount = 4;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Memory the process may gain between warm-up and the end. Generous: GC.GetTotalMemory is
    /// process-wide and other test classes run alongside (one moves a 65 MiB body, whose pooled
    /// buffers stay reachable); a per-kill leak of the layer would still show over 50 kills, and
    /// the layer-specific checks (backlog, live channels, connections) catch the rest.
    /// </summary>
    private const long MemoryGrowthBound = 256L * 1024 * 1024;

    private static int KillsFor(bool exclusiveQueue) =>
        int.TryParse(Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_RELIABILITY_KILLS"), out var kills) && kills > 0
            ? kills
            : exclusiveQueue ? 12 : 50;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Layers_under_load_survive_repeated_broker_side_connection_kills(bool exclusiveQueue)
    {
        var scenario = new KillScenario(output, exclusiveQueue, KillsFor(exclusiveQueue));
        await scenario.RunAsync();
    }

    private sealed class Peer(int index, RabbitMqChannelLayer layer, string a, string b)
    {
        public int Index { get; } = index;
        public RabbitMqChannelLayer Layer { get; } = layer;
        public string A { get; } = a;
        public string B { get; } = b;
        public string ConnectionName => $"ChannelsRabbitMq.Akka {Layer.QueueName}";
        public long Received;
        public int Kills;
    }

    private enum SendStatus { Pending, Confirmed, Refused, Failed, Hung }

    private sealed class Sent(string id, string[] recipients, int epoch)
    {
        public string Id { get; } = id;
        public string[] Recipients { get; } = recipients;
        public int Epoch { get; } = epoch;
        public SendStatus Status;
    }

    /// <summary>
    /// The parent of every tracked send: the layer's send activity is its child, so a send the
    /// layer reports as "may be lost" (its connection closed before the broker's confirm) is told
    /// apart from one the broker confirmed, message by message.
    /// </summary>
    private const string SendTrackerName = "ChannelsRabbitMq.Akka.Tests.Reliability.Kills";

    private static readonly ActivitySource SendTracker = new(SendTrackerName);

    private const string IdTag = "reliability.id";

    private sealed class KillScenario(ITestOutputHelper output, bool exclusiveQueue, int kills)
    {
        private readonly string _run = Guid.NewGuid().ToString("N")[..8];
        private readonly ConcurrentDictionary<string, string> _unconfirmed = new();
        private readonly ConcurrentDictionary<string, Sent> _sent = new();
        private readonly ConcurrentDictionary<(string Channel, string Id), int> _received = new();
        private readonly ConcurrentDictionary<(string Channel, string Id), ConcurrentQueue<DateTime>> _receivedAt = new();
        private readonly ConcurrentQueue<string> _problems = new();
        private readonly ConcurrentQueue<Exception> _unobserved = new();
        private readonly CancellationTokenSource _stopSending = new();
        private readonly CancellationTokenSource _stopReceiving = new();
        private readonly Dictionary<string, string[]> _members = new();
        private int _epoch;
        private long _churnOps;

        private string GroupAll => $"rel-all-{_run}";
        private string GroupPair(int p) => $"rel-pair{p}-{_run}";
        private string GroupChurn(int i) => $"rel-churn{i}-{_run}";

        public async Task RunAsync()
        {
            var total = Stopwatch.StartNew();
            void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => _unobserved.Enqueue(e.Exception);
            TaskScheduler.UnobservedTaskException += OnUnobserved;
            using var listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name is ChannelLayerTelemetry.Name or SendTrackerName, // by name: a static source may not exist yet
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = activity =>
                {
                    // A send the layer completed without the broker's confirm (the publish failed with its connection).
                    if (activity.Status == ActivityStatusCode.Error && activity.Parent?.GetTagItem(IdTag) is string id)
                        _unconfirmed[id] = activity.StatusDescription ?? "error";
                },
            };
            ActivitySource.AddActivityListener(listener);
            // Only the connection lifecycle goes to the test output: the traffic would drown it.
            await using var akka = new ReliabilitySystem(output, e => e.Level >= LogLevel.WarningLevel && !e.Text.Contains("may be lost"));
            var peers = new List<Peer>();
            var ctl = NodeCtl.Shared;
            try
            {
                for (var i = 0; i < LayerCount; i++)
                {
                    var layer = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
                    {
                        Host = TestBroker.Url,
                        ReconnectDelay = TimeSpan.FromMilliseconds(200),
                        ConnectTimeout = TimeSpan.FromSeconds(5),
                        RemoteCapacity = 10_000,
                        QueueMode = exclusiveQueue ? QueueMode.Exclusive : QueueMode.Durable,
                    });
                    peers.Add(new Peer(i, layer, await layer.NewChannelAsync("a"), await layer.NewChannelAsync("b")));
                }
                foreach (var p in peers) await p.Layer.WaitForConnectionAsync().WaitAsync(CallTimeout);

                _members[GroupAll] = peers.SelectMany(p => new[] { p.A, p.B }).ToArray();
                _members[GroupPair(0)] = peers.Where(p => p.Index % 2 == 0).Select(p => p.A).ToArray();
                _members[GroupPair(1)] = peers.Where(p => p.Index % 2 == 1).Select(p => p.A).ToArray();
                foreach (var p in peers)
                {
                    await p.Layer.GroupAddAsync(GroupAll, p.A).WaitAsync(CallTimeout);
                    await p.Layer.GroupAddAsync(GroupAll, p.B).WaitAsync(CallTimeout);
                    await p.Layer.GroupAddAsync(GroupPair(p.Index % 2), p.A).WaitAsync(CallTimeout);
                }

                var allChannels = peers.SelectMany(p => new[] { p.A, p.B }).ToArray();
                var receivers = peers.SelectMany(p => new[] { ReceiveLoop(p, p.A), ReceiveLoop(p, p.B) }).ToArray();
                var senders = peers.SelectMany(p => new[]
                {
                    DirectSendLoop(p, allChannels),
                    GroupSendLoop(p),
                    ChurnLoop(p),
                }).ToArray();

                // Traffic flows before the first kill.
                await Poll.UntilAsync(() => peers.All(p => Interlocked.Read(ref p.Received) >= 20), CallTimeout, "traffic to every layer");

                long memoryAfterWarmUp = 0;
                var killToConnected = new List<TimeSpan>();
                var conflicts = 0;
                for (var k = 0; k < kills; k++)
                {
                    var victim = peers[k % LayerCount];
                    var before = victim.Layer.GetStatistics().Reconnects;
                    var closed = ctl.CloseConnectionsNamed(victim.ConnectionName, $"reliability kill {k + 1}");
                    // A message whose send started before this point is counted against this kill
                    // (it was in flight, or queued, when the connection went).
                    Interlocked.Increment(ref _epoch);
                    if (closed != 1)
                    {
                        _problems.Enqueue($"kill {k + 1}: expected to close 1 connection of {victim.ConnectionName}, closed {closed}");
                        if (closed == 0) continue;
                    }
                    victim.Kills++;
                    var clock = Stopwatch.StartNew();
                    await Poll.UntilAsync(() => victim.Layer.GetStatistics() is { Connected: true } s && s.Reconnects > before,
                        RecoveryTimeout, $"layer {victim.Index} to reconnect after kill {k + 1}", intervalMs: 10);
                    killToConnected.Add(clock.Elapsed);
                    await victim.Layer.WaitForConnectionAsync().WaitAsync(CallTimeout);
                    // Traffic reaches the victim again before the next kill.
                    var receivedBefore = Interlocked.Read(ref victim.Received);
                    await Poll.UntilAsync(() => Interlocked.Read(ref victim.Received) >= receivedBefore + 10, CallTimeout,
                        $"traffic to layer {victim.Index} after kill {k + 1}");
                    if (k == Math.Min(4, kills - 1)) memoryAfterWarmUp = GC.GetTotalMemory(forceFullCollection: true);
                    if ((k + 1) % 10 == 0) CheckStaticBindings(ctl, peers, $"after kill {k + 1}");
                }
                conflicts = akka.Warnings("held by another connection").Count;

                // Stop the traffic; every call must have completed (none can hang past CallTimeout).
                _stopSending.Cancel();
                if (!await Task.WhenAll(senders).WaitAsync(CallTimeout + CallTimeout).ContinueWith(t => t.IsCompletedSuccessfully))
                    _problems.Enqueue("a send or group loop did not finish");

                // Let what is in flight arrive: until nothing is missing, or nothing new for 3 s.
                var drain = Stopwatch.StartNew();
                var lastCount = -1;
                var lastProgress = Stopwatch.StartNew();
                while (drain.Elapsed < TimeSpan.FromSeconds(30) && Missing().Count > 0)
                {
                    if (_received.Count != lastCount)
                    {
                        lastCount = _received.Count;
                        lastProgress.Restart();
                    }
                    else if (lastProgress.Elapsed > TimeSpan.FromSeconds(3))
                    {
                        break;
                    }
                    await Task.Delay(100);
                }
                var memoryAtEnd = GC.GetTotalMemory(forceFullCollection: true);

                _stopReceiving.Cancel();
                if (!await Task.WhenAll(receivers).WaitAsync(CallTimeout).ContinueWith(t => t.IsCompletedSuccessfully))
                    _problems.Enqueue("a receive loop did not finish after its ReceiveAsync was cancelled");

                // Every layer: exactly its groups bound (the churn groups end discarded), one connection.
                var bindings = ctl.BindingsOf("groups");
                foreach (var p in peers)
                {
                    var expected = new SortedSet<string> { GroupAll, GroupPair(p.Index % 2) };
                    var actual = new SortedSet<string>(bindings.Where(b => b.Queue == p.Layer.QueueName).Select(b => b.RoutingKey));
                    if (!expected.SetEquals(actual))
                        _problems.Enqueue($"layer {p.Index} ({p.Layer.QueueName}) is bound to [{string.Join(", ", actual)}], expected [{string.Join(", ", expected)}]");
                }
                var connections = ctl.ConnectionNames();
                foreach (var p in peers)
                {
                    var count = connections.Count(c => c.Name == p.ConnectionName);
                    if (count != 1) _problems.Enqueue($"layer {p.Index} has {count} connections on the broker, expected 1");
                }
                var stats = peers.Select(p => p.Layer.GetStatistics()).ToArray();
                foreach (var st in stats)
                {
                    // Everything was received: nothing may stay held, and only the two channels live.
                    if (st.LocalBacklog != 0) _problems.Enqueue($"{st.QueueName}: {st.LocalBacklog} deliveries still held unacked after the drain");
                    if (st.LiveChannels > 2) _problems.Enqueue($"{st.QueueName}: {st.LiveChannels} live channels, expected at most 2");
                }
                var reconnects = stats.Sum(s => s.Reconnects);
                var killsDone = peers.Sum(p => p.Kills);
                if (reconnects != killsDone) _problems.Enqueue($"{reconnects} reconnects for {killsDone} kills");

                var closeClock = Stopwatch.StartNew();
                if (!await Task.WhenAll(peers.Select(p => p.Layer.CloseAsync())).WaitAsync(CallTimeout).ContinueWith(t => t.IsCompletedSuccessfully))
                    _problems.Enqueue("CloseAsync of the layers did not complete");
                var closeTime = closeClock.Elapsed;

                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                GC.WaitForPendingFinalizers();

                // ---- figures
                var missing = Missing();
                var duplicates = _received.Where(r => r.Value > 1).ToArray();
                var unexpected = _received.Keys.Where(r => !_sent.TryGetValue(r.Id, out var s) || !s.Recipients.Contains(r.Channel)).ToArray();
                var byStatus = _sent.Values.GroupBy(s => s.Status).ToDictionary(g => g.Key, g => g.Count());
                var expectedDeliveries = _sent.Values.Where(s => s.Status == SendStatus.Confirmed).Sum(s => s.Recipients.Length);
                var lostByKill = missing.GroupBy(m => m.Epoch).ToDictionary(g => g.Key, g => g.Count());
                var perKill = Enumerable.Range(0, kills).Select(e => lostByKill.GetValueOrDefault(e)).ToArray();
                var downtimes = Downtimes(akka, peers);
                var lostWarnings = akka.Warnings("may be lost").Count;
                var actorFailures = akka.Events.Where(e => e.Level == LogLevel.ErrorLevel).ToArray();

                var report = new StringBuilder();
                report.AppendLine($"mode: {(exclusiveQueue ? "QueueMode.Exclusive (the original's exclusive queue)" : "QueueMode.Durable (queue survives blips, the default with one host)")}");
                report.AppendLine($"layers: {LayerCount}, kills: {killsDone} (broker-side close_connection), duration {total.Elapsed.TotalSeconds:0.0} s");
                report.AppendLine($"sends: {_sent.Count} ({string.Join(", ", byStatus.Select(kv => $"{kv.Key} {kv.Value}"))}); group binding changes (churn): {Interlocked.Read(ref _churnOps)}");
                report.AppendLine($"expected deliveries: {expectedDeliveries}, received: {_received.Count} distinct, lost: {missing.Count} ({(expectedDeliveries == 0 ? 0 : 100.0 * missing.Count / expectedDeliveries):0.000} %)");
                report.AppendLine($"lost per kill: mean {(double)missing.Count / Math.Max(1, killsDone):0.00}, max {(perKill.Length == 0 ? 0 : perKill.Max())}, kills with a loss {perKill.Count(n => n > 0)}/{killsDone}; sent after the last kill: {lostByKill.GetValueOrDefault(kills)}");
                report.AppendLine($"lost per kill, in order: [{string.Join(' ', perKill)}]");
                var lostSends = missing.Select(m => m.Id).Distinct().ToArray();
                var partialGroups = missing.Where(m => m.Id.Contains('g')).GroupBy(m => m.Id)
                    .Count(g => g.Count() < _sent[g.Key].Recipients.Length);
                report.AppendLine($"lost deliveries by kind: direct {missing.Count(m => m.Id.Contains('d'))}, group {missing.Count(m => m.Id.Contains('g'))} " +
                                  $"(a group send reaches 2 or 8 channels); lost sends: {lostSends.Length} of {byStatus.GetValueOrDefault(SendStatus.Confirmed)} " +
                                  $"({lostSends.Count(i => i.Contains('d'))} direct, {lostSends.Count(i => i.Contains('g'))} group, of which {partialGroups} reached only some members)");
                // Where the lost deliveries went: sends the broker never confirmed (their connection closed
                // first: at-most-once allows that loss) against sends it confirmed (each one a window in the
                // layer, since the queue outlives the blip in the default mode).
                var lostConfirmed = missing.Where(m => !_unconfirmed.ContainsKey(m.Id)).ToArray();
                var lostConfirmedSends = lostConfirmed.Select(m => m.Id).Distinct().ToArray();
                var partialConfirmed = lostConfirmed.Where(m => m.Id.Contains('g')).GroupBy(m => m.Id)
                    .Count(g => g.Count() < _sent[g.Key].Recipients.Length);
                report.AppendLine($"lost deliveries of sends never confirmed (\"may be lost\"): {missing.Count - lostConfirmed.Length} " +
                                  $"({missing.Where(m => _unconfirmed.ContainsKey(m.Id)).Select(m => m.Id).Distinct().Count()} sends; {_unconfirmed.Count} sends unconfirmed in all)");
                report.AppendLine($"lost deliveries of CONFIRMED sends: {lostConfirmed.Length} ({lostConfirmedSends.Length} sends: " +
                                  $"{lostConfirmedSends.Count(i => i.Contains('d'))} direct, {lostConfirmedSends.Count(i => i.Contains('g'))} group, of which {partialConfirmed} reached only some members)");
                foreach (var m in lostConfirmed.GroupBy(m => m.Id).Take(30))
                {
                    var s = _sent[m.Key];
                    var got = s.Recipients.Where(c => _received.ContainsKey((c, s.Id))).ToArray();
                    report.AppendLine($"  lost confirmed {s.Id} (kill epoch {s.Epoch}): missing on {m.Count()} of {s.Recipients.Length} recipients" +
                                      $"{(got.Length > 0 ? $", received on {got.Length}" : "")}");
                }
                report.AppendLine($"layer counters (sum): duplicates suppressed {peers.Sum(p => p.Layer.Counters.DuplicatesSuppressed)}, " +
                                  $"expired locally {stats.Sum(s => s.ExpiredLocally)}, dropped with no recipient {stats.Sum(s => s.DroppedNoRecipient)}, malformed {stats.Sum(s => s.Malformed)}");
                report.AppendLine($"duplicates: {duplicates.Length} (deliveries of one message to one channel more than once){(duplicates.Length > 0 ? ": " + string.Join(", ", duplicates.Take(10).Select(d => $"{d.Key.Id}@{d.Key.Channel}×{d.Value}")) : "")}");
                foreach (var d in duplicates.Take(20))
                    report.AppendLine($"  duplicate {d.Key.Id} on {d.Key.Channel}: received at {string.Join(", ", _receivedAt[d.Key].Select(t => t.ToString("HH:mm:ss.fff")))}");
                report.AppendLine($"unexpected deliveries: {unexpected.Length}");
                report.AppendLine($"errors logged (layer actor failures): {actorFailures.Length}{string.Concat(actorFailures.Select(e => $"\n  {e.Timestamp:HH:mm:ss.fff} {e.Source}: {e.Text}: {e.Cause?.Split('\n')[0]}"))}");
                report.AppendLine($"\"may be lost\" warnings (publish unconfirmed at the kill): {lostWarnings}; queue-name conflict retries: {conflicts}");
                report.AppendLine($"kill → Connected seen by the test (includes rabbitmqctl's return): {Figures.Summary(killToConnected)}");
                report.AppendLine($"connection lost → connected again (layer log): {Figures.Summary(downtimes)}");
                report.AppendLine($"memory after warm-up {memoryAfterWarmUp / 1024 / 1024.0:0.0} MiB, at the end {memoryAtEnd / 1024 / 1024.0:0.0} MiB (process-wide, other tests run alongside)");
                var (clientInternal, ours) = SplitUnobserved(_unobserved);
                report.AppendLine($"close of 4 layers: {Figures.Ms(closeTime)}; unobserved task exceptions: {ours.Count} from the layer, " +
                                  $"{clientInternal.Count} inside RabbitMQ.Client's own connection teardown (upstream; see docs/reliability.md)");
                report.AppendLine($"per layer: {string.Join("; ", stats.Select(s => $"{s.QueueName}: reconnects {s.Reconnects}, sent {s.MessagesSent}, received {s.MessagesReceived}, backlog {s.LocalBacklog}, live channels {s.LiveChannels}"))}");
                Figures.Report(output, $"broker-side kills, {(exclusiveQueue ? "exclusive queue" : "default")}", report.ToString());

                if (duplicates.Length > 0) _problems.Enqueue($"{duplicates.Length} message(s) delivered twice to one channel (at-most-once broken)");
                // The queue outlives the blip: a send the broker confirmed is in it, so losing one is the layer's fault.
                if (!exclusiveQueue && lostConfirmed.Length > 0)
                    _problems.Enqueue($"{lostConfirmed.Length} delivery(ies) of {lostConfirmedSends.Length} send(s) the broker had confirmed never arrived: {string.Join(", ", lostConfirmedSends.Take(10))}");
                if (actorFailures.Length > 0) _problems.Enqueue($"{actorFailures.Length} error(s) logged: a layer actor failed for another reason than the kill");
                if (unexpected.Length > 0) _problems.Enqueue($"{unexpected.Length} message(s) delivered to a channel they were not sent to");
                if (byStatus.GetValueOrDefault(SendStatus.Hung) > 0) _problems.Enqueue($"{byStatus[SendStatus.Hung]} call(s) did not complete within {CallTimeout.TotalSeconds} s");
                if (byStatus.GetValueOrDefault(SendStatus.Failed) > 0) _problems.Enqueue($"{byStatus[SendStatus.Failed]} send(s) failed with an unexpected exception");
                if (memoryAfterWarmUp > 0 && memoryAtEnd - memoryAfterWarmUp > MemoryGrowthBound)
                    _problems.Enqueue($"memory grew by {(memoryAtEnd - memoryAfterWarmUp) / 1024 / 1024} MiB (bound {MemoryGrowthBound / 1024 / 1024} MiB)");
                foreach (var e in ours) _problems.Enqueue($"unobserved task exception: {e}");
                if (!_problems.IsEmpty) Assert.Fail("Problems:\n  " + string.Join("\n  ", _problems));
            }
            finally
            {
                TaskScheduler.UnobservedTaskException -= OnUnobserved;
                _stopSending.Cancel();
                _stopReceiving.Cancel();
                await Task.WhenAll(peers.Select(p => p.Layer.CloseAsync())).WaitAsync(CallTimeout).ContinueWith(_ => { });
            }
        }

        private List<Sent> Missing()
        {
            var missing = new List<Sent>();
            foreach (var sent in _sent.Values)
            {
                if (sent.Status != SendStatus.Confirmed) continue;
                foreach (var channel in sent.Recipients)
                    if (!_received.ContainsKey((channel, sent.Id))) missing.Add(sent);
            }
            return missing;
        }

        private void CheckStaticBindings(NodeCtl ctl, List<Peer> peers, string when)
        {
            var bindings = ctl.BindingsOf("groups");
            foreach (var p in peers)
            {
                foreach (var group in new[] { GroupAll, GroupPair(p.Index % 2) })
                    if (!bindings.Contains((p.Layer.QueueName, group)))
                        _problems.Enqueue($"{when}: layer {p.Index} ({p.Layer.QueueName}) lacks its binding for {group}");
            }
        }

        /// <summary>From each "Lost the connection" warning of a layer to its next "Connected to".</summary>
        private static List<TimeSpan> Downtimes(ReliabilitySystem akka, List<Peer> peers)
        {
            var result = new List<TimeSpan>();
            var events = akka.Events;
            foreach (var p in peers)
            {
                DateTime? lost = null;
                foreach (var e in events.Where(e => e.Source.Contains(p.Layer.QueueName, StringComparison.Ordinal)).OrderBy(e => e.Timestamp))
                {
                    if (e.Level == LogLevel.WarningLevel && e.Text.StartsWith("Lost the connection", StringComparison.Ordinal)) lost ??= e.Timestamp;
                    else if (e.Text.StartsWith("Connected to", StringComparison.Ordinal) && lost is { } since)
                    {
                        result.Add(e.Timestamp - since);
                        lost = null;
                    }
                }
            }
            return result;
        }

        private async Task ReceiveLoop(Peer peer, string channel)
        {
            await Task.Yield();
            while (!_stopReceiving.IsCancellationRequested)
            {
                IReadOnlyDictionary<string, object?> message;
                try
                {
                    message = await peer.Layer.ReceiveAsync(channel, _stopReceiving.Token);
                }
                catch (OperationCanceledException) when (_stopReceiving.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    _problems.Enqueue($"ReceiveAsync({channel}) failed: {e.GetType().Name}: {e.Message}");
                    return;
                }
                var key = (channel, Tagged.IdOf(message));
                _received.AddOrUpdate(key, 1, (_, n) => n + 1);
                _receivedAt.GetOrAdd(key, _ => new ConcurrentQueue<DateTime>()).Enqueue(DateTime.UtcNow);
                Interlocked.Increment(ref peer.Received);
            }
        }

        private async Task DirectSendLoop(Peer peer, string[] channels)
        {
            await Task.Yield();
            var random = new Random(peer.Index * 7919 + 1);
            for (var n = 1; !_stopSending.IsCancellationRequested; n++)
            {
                var target = channels[random.Next(channels.Length)];
                var id = $"{peer.Index}d{n}";
                await TrackedSend(id, [target], "direct", m => peer.Layer.SendAsync(target, m));
                await Task.Delay(8);
            }
        }

        private async Task GroupSendLoop(Peer peer)
        {
            await Task.Yield();
            var random = new Random(peer.Index * 104729 + 3);
            for (var n = 1; !_stopSending.IsCancellationRequested; n++)
            {
                var group = random.Next(3) switch { 0 => GroupAll, 1 => GroupPair(0), _ => GroupPair(1) };
                var id = $"{peer.Index}g{n}";
                await TrackedSend(id, _members[group], "group", m => peer.Layer.GroupSendAsync(group, m));
                await Task.Delay(16);
            }
        }

        private async Task ChurnLoop(Peer peer)
        {
            await Task.Yield();
            var group = GroupChurn(peer.Index);
            while (!_stopSending.IsCancellationRequested)
            {
                if (!await Completes(peer.Layer.GroupAddAsync(group, peer.B), $"GroupAddAsync({group})")) return;
                if (!await Completes(peer.Layer.GroupDiscardAsync(group, peer.B), $"GroupDiscardAsync({group})")) return;
                Interlocked.Add(ref _churnOps, 2);
                await Task.Delay(50);
            }
        }

        private async Task<bool> Completes(Task call, string what)
        {
            try
            {
                await call.WaitAsync(CallTimeout);
                return true;
            }
            catch (TimeoutException)
            {
                Observe(call);
                _problems.Enqueue($"{what} did not complete within {CallTimeout.TotalSeconds} s");
                return false;
            }
            catch (Exception e)
            {
                _problems.Enqueue($"{what} failed: {e.GetType().Name}: {e.Message}");
                return false;
            }
        }

        private async Task TrackedSend(string id, string[] recipients, string kind, Func<Dictionary<string, object?>, Task> send)
        {
            var sent = new Sent(id, recipients, Volatile.Read(ref _epoch));
            _sent[id] = sent;
            Task call;
            try
            {
                using var tracked = SendTracker.StartActivity("tracked-send");
                tracked?.SetTag(IdTag, id);
                call = send(Tagged.Message(id, kind));
            }
            catch (Exception e)
            {
                sent.Status = SendStatus.Failed;
                _problems.Enqueue($"send {id} threw {e.GetType().Name}: {e.Message}");
                return;
            }
            try
            {
                await call.WaitAsync(CallTimeout);
                sent.Status = SendStatus.Confirmed;
            }
            catch (TimeoutException)
            {
                Observe(call);
                sent.Status = SendStatus.Hung;
            }
            catch (ChannelFullException)
            {
                sent.Status = SendStatus.Refused;
            }
            catch (Exception e)
            {
                sent.Status = SendStatus.Failed;
                _problems.Enqueue($"send {id} failed: {e.GetType().Name}: {e.Message}");
            }
        }

        /// <summary>
        /// Splits unobserved task exceptions into those raised inside RabbitMQ.Client's own teardown of
        /// a connection the broker closed (tasks the client creates and never awaits: its main loop's
        /// FinishCloseAsync, and confirm/RPC completions failed with AlreadyClosedException after their
        /// awaiter was gone) and everything else, which would be the layer's fault.
        /// </summary>
        private static (List<Exception> ClientInternal, List<Exception> Ours) SplitUnobserved(IEnumerable<Exception> unobserved)
        {
            var clientInternal = new List<Exception>();
            var ours = new List<Exception>();
            foreach (var e in unobserved)
            {
                var inner = e is AggregateException a && a.InnerExceptions.Count == 1 ? a.InnerExceptions[0] : e;
                var text = inner.ToString();
                var insideClient = !text.Contains("ChannelsRabbitMq.Akka", StringComparison.Ordinal) &&
                    (inner is RabbitMQ.Client.Exceptions.AlreadyClosedException
                     || text.Contains("RabbitMQ.Client.Framing.Connection.MainLoop", StringComparison.Ordinal));
                // The handler is process-wide: a connection another test class closed (the transport
                // specs close theirs with this reason, which is not one this test gives) is not this test's.
                var anotherTests = text.Contains("CONNECTION_FORCED - transport spec", StringComparison.Ordinal);
                (insideClient || anotherTests ? clientInternal : ours).Add(e);
            }
            return (clientInternal, ours);
        }

        /// <summary>A call abandoned by a timeout must not fail unobserved later (that would be the test's fault).</summary>
        private static void Observe(Task call) =>
            call.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }
}
