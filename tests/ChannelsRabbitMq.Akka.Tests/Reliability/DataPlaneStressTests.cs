using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// A randomized stress of the data plane on the real broker: two layers, direct and group sends
/// under load, and on each channel receivers that give up all the time — <c>ReceiveAsync</c>
/// cancelled after a random few milliseconds, <c>Ask</c>s of <see cref="ChannelLayerProtocol.Receive"/>
/// whose Ask times out (with and without <see cref="ChannelLayerProtocol.Receive.Timeout"/>) —
/// and channels whose subscriber is subscribed, unsubscribed and resubscribed over and over.
/// Every message carries a unique id; sends, receipts (by route), give-ups and duplicates are
/// counted.
/// </summary>
/// <remarks>
/// <para>
/// Without kills nothing may be lost: a confirmed send that nobody received would be a message
/// taken by a receiver that had already given up. With broker-side connection kills, at most
/// once still holds (no duplicate); the losses (sends unconfirmed when their connection closed)
/// are a figure.
/// </para>
/// <para>
/// Randomness comes from one seed, printed at the start and in every failure:
/// <c>CHANNELS_RABBITMQ_STRESS_SEED=&lt;seed&gt;</c> replays its choices (thread timing is the
/// machine's). <c>CHANNELS_RABBITMQ_STRESS_SECONDS</c> sets the load phase (default 10 s).
/// </para>
/// </remarks>
[Collection(BrokerKillCollection.Name)]
public sealed class DataPlaneStressTests(ITestOutputHelper output)
{
    /// <summary>
    /// Receivers give up by cancellation, by <see cref="ChannelLayerProtocol.Receive.Timeout"/>
    /// (inside the layer, the Ask's own timeout being longer), or by unsubscribing: none takes a
    /// message, so every confirmed send is received.
    /// </summary>
    [Fact]
    public async Task Receivers_that_give_up_at_random_under_load_take_no_message_and_none_is_lost_or_duplicated()
    {
        var scenario = new StressScenario(output, kills: 0, askTimesOut: false);
        var result = await scenario.RunAsync();
        result.AssertNoProblem();
        result.Assert(result.LostDeliveries == 0, $"{result.LostDeliveries} confirmed deliveries never received (taken by a receiver that gave up?): {result.LostSample}");
    }

    /// <summary>
    /// As above, plus Asks whose own timeout ends them (without Receive.Timeout, or with a longer
    /// one). The layer learns of an Ask's timeout only once Akka has unregistered its temporary
    /// actor (a thread-pool hop after the timeout); a message claimed in that window, or on its way
    /// to the asker when the timeout fires, is dead-lettered by Akka, and the layer gives it back
    /// to its channel (docs/actors.md).
    /// </summary>
    [Fact]
    public async Task Asks_that_time_out_at_random_under_load_take_no_message()
    {
        var scenario = new StressScenario(output, kills: 0, askTimesOut: true);
        var result = await scenario.RunAsync();
        result.AssertNoProblem();
        result.Assert(result.LostDeliveries == 0, $"{result.LostDeliveries} confirmed deliveries never received: {result.LostSample}; " +
                                                  $"{result.DeadLettered} handed to an Ask that had timed out");
    }

    /// <summary>Every kind of giving up, and broker-side kills of the layers' connections: never a message twice.</summary>
    [Fact]
    public async Task Receivers_that_give_up_at_random_under_load_and_connection_kills_never_get_a_message_twice()
    {
        var scenario = new StressScenario(output, kills: 3, askTimesOut: true);
        var result = await scenario.RunAsync();
        result.AssertNoProblem();
    }

    private enum Route { ReceiveAsync, Ask, AskWithTimeout, Subscriber }

    private sealed class Sent(string id, string[] recipients)
    {
        public string Id { get; } = id;
        public string[] Recipients { get; } = recipients;
        public volatile bool Confirmed;
    }

    internal sealed class Result(int seed, List<string> problems)
    {
        public int Seed { get; } = seed;
        public int LostDeliveries { get; init; }
        public int DeadLettered { get; init; }
        public string LostSample { get; init; } = "";

        public void Assert(bool condition, string what)
        {
            if (!condition) Xunit.Assert.Fail($"{what} (seed {Seed}: CHANNELS_RABBITMQ_STRESS_SEED={Seed} replays it)");
        }

        public void AssertNoProblem() =>
            Assert(problems.Count == 0, "Problems:\n  " + string.Join("\n  ", problems));
    }

    private sealed class StressScenario
    {
        private const int ReceiveChannelsPerLayer = 3;
        private const int SubscribedChannelsPerLayer = 2;
        private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

        private readonly ITestOutputHelper _output;
        private readonly int _kills;
        private readonly bool _askTimesOut;
        private readonly ConcurrentQueue<string> _deadLettered = new();
        private readonly int _seed;
        private readonly TimeSpan _load;
        private readonly string _run = Guid.NewGuid().ToString("N")[..8];
        private readonly ConcurrentDictionary<string, Sent> _sent = new();
        private readonly ConcurrentDictionary<(string Channel, string Id), int> _received = new();
        private readonly long[] _byRoute = new long[4];
        private readonly long[] _gaveUp = new long[3];
        private readonly ConcurrentQueue<string> _problems = new();
        private readonly CancellationTokenSource _stopSending = new();
        private readonly CancellationTokenSource _stopReceiving = new();
        private long _subscriptions;
        private TaskCompletionSource _progress = NewProgress();

        public StressScenario(ITestOutputHelper output, int kills, bool askTimesOut)
        {
            _output = output;
            _kills = kills;
            _askTimesOut = askTimesOut;
            _seed = int.TryParse(Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_STRESS_SEED"), out var seed) ? seed : Random.Shared.Next();
            _load = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_STRESS_SECONDS"), out var s) && s > 0 ? s : 10);
        }

        private static TaskCompletionSource NewProgress() => new(TaskCreationOptions.RunContinuationsAsynchronously);

        // One generator per task, each derived from the seed and the task's index.
        private Random RandomFor(int index) => new(unchecked(_seed * 31 + index));

        public async Task<Result> RunAsync()
        {
            _output.WriteLine($"seed {_seed} (CHANNELS_RABBITMQ_STRESS_SEED={_seed} replays it), load {_load.TotalSeconds:0} s, kills {_kills}");
            var clock = Stopwatch.StartNew();
            await using var akka = new ReliabilitySystem(_output, e => e.Level >= LogLevel.WarningLevel && !e.Text.Contains("may be lost"));
            // A reply that reached an Ask after its timeout goes to dead letters: name those messages.
            akka.System.EventStream.Subscribe(akka.System.ActorOf(Props.Create(() => new DeadLetterWatcher(_deadLettered))), typeof(DeadLetter));
            var layers = new List<RabbitMqChannelLayer>();
            try
            {
                for (var i = 0; i < 2; i++)
                {
                    layers.Add(new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions
                    {
                        Host = TestBroker.Url,
                        ReconnectDelay = TimeSpan.FromMilliseconds(200),
                        ConnectTimeout = TimeSpan.FromSeconds(5),
                        RemoteCapacity = 10_000,
                    }));
                }
                foreach (var layer in layers) await layer.WaitForConnectionAsync().WaitAsync(CallTimeout);

                var receiveChannels = new List<(RabbitMqChannelLayer Layer, string Channel)>();
                var subscribedChannels = new List<(RabbitMqChannelLayer Layer, string Channel)>();
                foreach (var layer in layers)
                {
                    for (var i = 0; i < ReceiveChannelsPerLayer; i++) receiveChannels.Add((layer, await layer.NewChannelAsync("r")));
                    for (var i = 0; i < SubscribedChannelsPerLayer; i++) subscribedChannels.Add((layer, await layer.NewChannelAsync("s")));
                }
                var all = receiveChannels.Concat(subscribedChannels).ToArray();
                var groups = new Dictionary<string, string[]>
                {
                    [$"stress-all-{_run}"] = all.Select(c => c.Channel).ToArray(),
                    [$"stress-receivers-{_run}"] = receiveChannels.Select(c => c.Channel).ToArray(),
                    [$"stress-subscribers-{_run}"] = subscribedChannels.Select(c => c.Channel).ToArray(),
                };
                foreach (var (group, members) in groups)
                    foreach (var member in members)
                        await all.First(c => c.Channel == member).Layer.GroupAddAsync(group, member).WaitAsync(CallTimeout);

                var index = 0;
                var receivers = new List<Task>();
                foreach (var (layer, channel) in receiveChannels)
                {
                    receivers.Add(CancellingReceiver(layer, channel, RandomFor(index++)));
                    receivers.Add(CancellingReceiver(layer, channel, RandomFor(index++)));
                    receivers.Add(AskingReceiver(layer, channel, RandomFor(index++), withReceiveTimeout: true));
                    receivers.Add(AskingReceiver(layer, channel, RandomFor(index++), withReceiveTimeout: !_askTimesOut));
                }
                foreach (var (layer, channel) in subscribedChannels)
                    receivers.Add(SubscriptionChurn(akka.System, layer, channel, RandomFor(index++)));
                var senders = new List<Task>();
                for (var l = 0; l < layers.Count; l++)
                {
                    senders.Add(DirectSender(layers[l], l, all.Select(c => c.Channel).ToArray(), RandomFor(index++)));
                    senders.Add(GroupSender(layers[l], l, groups, RandomFor(index++)));
                }

                // The load phase, with the kills spread over it at random moments.
                var killTimes = new List<TimeSpan>();
                var killRandom = RandomFor(index++);
                var killAt = Enumerable.Range(0, _kills)
                    .Select(_ => TimeSpan.FromMilliseconds(killRandom.Next(1000, (int)_load.TotalMilliseconds - 1000)))
                    .Order().ToArray();
                var phase = Stopwatch.StartNew();
                foreach (var at in killAt)
                {
                    if (at > phase.Elapsed) await Task.Delay(at - phase.Elapsed);
                    var victim = layers[killRandom.Next(layers.Count)];
                    var before = victim.GetStatistics().Reconnects;
                    var killClock = Stopwatch.StartNew();
                    var closed = NodeCtl.Shared.CloseConnectionsNamed($"ChannelsRabbitMq.Akka {victim.QueueName}", "data-plane stress kill");
                    if (closed != 1) _problems.Enqueue($"a kill closed {closed} connections of {victim.QueueName}, expected 1");
                    await DedicatedLayers.WaitForReconnectAsync(victim, before, CallTimeout, $"{victim.QueueName} to reconnect");
                    killTimes.Add(killClock.Elapsed);
                }
                if (_load > phase.Elapsed) await Task.Delay(_load - phase.Elapsed);
                _stopSending.Cancel();
                if (!await Task.WhenAll(senders).WaitAsync(CallTimeout).ContinueWith(t => t.IsCompletedSuccessfully))
                    _problems.Enqueue("a sender did not finish");

                // Drain: until every confirmed delivery is in, or nothing new arrived for 3 s.
                while (Missing().Count > 0)
                {
                    var progress = Volatile.Read(ref _progress).Task;
                    if (await Task.WhenAny(progress, Task.Delay(TimeSpan.FromSeconds(3))) != progress) break;
                }
                _stopReceiving.Cancel();
                if (!await Task.WhenAll(receivers).WaitAsync(CallTimeout).ContinueWith(t => t.IsCompletedSuccessfully))
                    _problems.Enqueue("a receiver did not finish");

                var stats = layers.Select(l => l.GetStatistics()).ToArray();
                if (_kills == 0)
                {
                    foreach (var st in stats.Where(s => s.LocalBacklog != 0))
                        _problems.Enqueue($"{st.QueueName}: {st.LocalBacklog} deliveries still held after the drain");
                }

                var missing = Missing();
                var duplicates = _received.Where(r => r.Value > 1).ToArray();
                var unexpected = _received.Keys.Where(r => !_sent.TryGetValue(r.Id, out var s) || !s.Recipients.Contains(r.Channel)).ToArray();
                var confirmed = _sent.Values.Count(s => s.Confirmed);
                var expected = _sent.Values.Where(s => s.Confirmed).Sum(s => s.Recipients.Length);
                var report = new StringBuilder();
                report.AppendLine($"seed {_seed}; 2 layers, {receiveChannels.Count} channels received from (2 cancelling receivers, 2 asking receivers each), " +
                                  $"{subscribedChannels.Count} subscribed channels (churned); load {_load.TotalSeconds:0} s; kills {killTimes.Count}; total {clock.Elapsed.TotalSeconds:0.0} s");
                report.AppendLine($"sends: {_sent.Count}, confirmed {confirmed}; expected deliveries {expected}, received {_received.Count} distinct, lost {missing.Count}, duplicates {duplicates.Length}, unexpected {unexpected.Length}");
                report.AppendLine($"received by route: ReceiveAsync {_byRoute[0]}, Ask {_byRoute[1]}, Ask with Receive.Timeout {_byRoute[2]}, subscriber {_byRoute[3]} ({Interlocked.Read(ref _subscriptions)} subscriptions)");
                report.AppendLine($"gave up: ReceiveAsync cancelled {_gaveUp[0]}, Ask timed out {_gaveUp[1]}, Ask with Receive.Timeout timed out {_gaveUp[2]}" +
                                  $"{(_askTimesOut ? " (Asks time out by themselves too)" : " (every Ask's own timeout is longer than its Receive.Timeout)")}");
                report.AppendLine($"messages handed to an Ask that had already timed out (dead letters): {_deadLettered.Count}{(_deadLettered.IsEmpty ? "" : ": " + string.Join(", ", _deadLettered.Take(10)))}");
                report.AppendLine($"layer counters: duplicates suppressed {layers.Sum(l => l.Counters.DuplicatesSuppressed)}, expired locally {stats.Sum(s => s.ExpiredLocally)}, " +
                                  $"dropped with no recipient {stats.Sum(s => s.DroppedNoRecipient)}; \"may be lost\" warnings {akka.Warnings("may be lost").Count}");
                if (killTimes.Count > 0) report.AppendLine($"kill → reconnected: {Figures.Summary(killTimes)}");
                Figures.Report(_output, $"data-plane stress, {(_kills == 0 ? "no kills" : $"{_kills} kills")}", report.ToString());

                if (duplicates.Length > 0)
                    _problems.Enqueue($"{duplicates.Length} message(s) received twice on one channel: {string.Join(", ", duplicates.Take(10).Select(d => $"{d.Key.Id}@{d.Key.Channel}×{d.Value}"))}");
                if (unexpected.Length > 0) _problems.Enqueue($"{unexpected.Length} message(s) received on a channel they were not sent to");
                var errors = akka.Events.Where(e => e.Level == LogLevel.ErrorLevel).ToArray();
                if (errors.Length > 0) _problems.Enqueue($"{errors.Length} error(s) logged, first: {errors[0]}");
                return new Result(_seed, _problems.ToList())
                {
                    LostDeliveries = missing.Count,
                    DeadLettered = _deadLettered.Count,
                    LostSample = string.Join(", ", missing.Take(10)),
                };
            }
            finally
            {
                _stopSending.Cancel();
                _stopReceiving.Cancel();
                await Task.WhenAll(layers.Select(l => l.CloseAsync())).WaitAsync(CallTimeout).ContinueWith(_ => { });
            }
        }

        private List<string> Missing()
        {
            var missing = new List<string>();
            foreach (var sent in _sent.Values)
            {
                if (!sent.Confirmed) continue;
                foreach (var channel in sent.Recipients)
                    if (!_received.ContainsKey((channel, sent.Id))) missing.Add($"{sent.Id}@{channel}");
            }
            return missing;
        }

        private void Record(string channel, IReadOnlyDictionary<string, object?> message, Route route)
        {
            _received.AddOrUpdate((channel, Tagged.IdOf(message)), 1, (_, n) => n + 1);
            Interlocked.Increment(ref _byRoute[(int)route]);
            Interlocked.Exchange(ref _progress, NewProgress()).TrySetResult();
        }

        // ReceiveAsync with a cancellation after a random 1-30 ms.
        private async Task CancellingReceiver(RabbitMqChannelLayer layer, string channel, Random random)
        {
            await Task.Yield();
            while (!_stopReceiving.IsCancellationRequested)
            {
                using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(_stopReceiving.Token);
                giveUp.CancelAfter(random.Next(1, 31));
                try
                {
                    Record(channel, await layer.ReceiveAsync(channel, giveUp.Token), Route.ReceiveAsync);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _gaveUp[0]);
                }
                catch (Exception e)
                {
                    _problems.Enqueue($"ReceiveAsync({channel}) failed: {e.GetType().Name}: {e.Message}");
                    return;
                }
            }
        }

        // Asks of Receive with a Receive.Timeout of 2-30 ms, or without. When Asks may time out by
        // themselves, the Ask's timeout is 5-40 ms (shorter or longer than the Receive.Timeout);
        // otherwise it is the Receive.Timeout plus 2 s, so the receive always ends inside the layer.
        private async Task AskingReceiver(RabbitMqChannelLayer layer, string channel, Random random, bool withReceiveTimeout)
        {
            await Task.Yield();
            while (!_stopReceiving.IsCancellationRequested)
            {
                var receiveTimeout = TimeSpan.FromMilliseconds(random.Next(2, 31));
                var request = withReceiveTimeout
                    ? new ChannelLayerProtocol.Receive(channel) { Timeout = receiveTimeout }
                    : new ChannelLayerProtocol.Receive(channel);
                var askTimeout = _askTimesOut ? TimeSpan.FromMilliseconds(random.Next(5, 41)) : receiveTimeout + TimeSpan.FromSeconds(2);
                try
                {
                    var received = await layer.Actor.Ask<ChannelLayerProtocol.Received>(request, askTimeout);
                    Record(channel, received.Message, withReceiveTimeout ? Route.AskWithTimeout : Route.Ask);
                }
                catch (Exception e) when (e is AskTimeoutException or TimeoutException)
                {
                    Interlocked.Increment(ref _gaveUp[withReceiveTimeout ? 2 : 1]);
                }
                catch (Exception e)
                {
                    _problems.Enqueue($"Ask(Receive {channel}) failed: {e.GetType().Name}: {e.Message}");
                    return;
                }
            }
        }

        // A subscriber subscribed for 5-50 ms, unsubscribed for 0-20 ms, resubscribed; every other
        // round a new subscriber actor (the old one stops after its unsubscribe returned).
        private async Task SubscriptionChurn(ActorSystem system, RabbitMqChannelLayer layer, string channel, Random random)
        {
            await Task.Yield();
            IActorRef NewSubscriber() => system.ActorOf(Props.Create(() => new Subscriber(this, channel)));
            var subscriber = NewSubscriber();
            try
            {
                while (!_stopReceiving.IsCancellationRequested)
                {
                    await layer.SubscribeAsync(channel, subscriber).WaitAsync(CallTimeout);
                    Interlocked.Increment(ref _subscriptions);
                    await Task.Delay(random.Next(5, 51));
                    await layer.UnsubscribeAsync(channel, subscriber).WaitAsync(CallTimeout);
                    if (random.Next(2) == 0)
                    {
                        // Nothing is pushed to it once the unsubscribe returned: what it holds, it handles first.
                        await subscriber.GracefulStop(CallTimeout);
                        subscriber = NewSubscriber();
                    }
                    var gap = random.Next(0, 21);
                    if (gap > 0) await Task.Delay(gap);
                }
                // The drain ends subscribed: what is still buffered is pushed.
            }
            catch (Exception e)
            {
                _problems.Enqueue($"subscription churn on {channel} failed: {e.GetType().Name}: {e.Message}");
            }
        }

        private sealed class DeadLetterWatcher : ReceiveActor
        {
            public DeadLetterWatcher(ConcurrentQueue<string> deadLettered)
            {
                Receive<DeadLetter>(d =>
                {
                    if (d.Message is ChannelLayerProtocol.Received r) deadLettered.Enqueue($"{Tagged.IdOf(r.Message)}@{r.Channel}");
                });
            }
        }

        private sealed class Subscriber : ReceiveActor
        {
            public Subscriber(StressScenario scenario, string channel)
            {
                Receive<ChannelLayerProtocol.Received>(m =>
                {
                    if (m.Channel != channel) scenario._problems.Enqueue($"a subscriber of {channel} got a message of {m.Channel}");
                    scenario.Record(m.Channel, m.Message, Route.Subscriber);
                });
            }
        }

        private async Task DirectSender(RabbitMqChannelLayer layer, int index, string[] channels, Random random)
        {
            await Task.Yield();
            for (var n = 1; !_stopSending.IsCancellationRequested; n++)
            {
                var target = channels[random.Next(channels.Length)];
                await Tracked($"{index}d{n}", [target], m => layer.SendAsync(target, m));
                if (random.Next(4) == 0) await Task.Delay(random.Next(1, 4));
            }
        }

        private async Task GroupSender(RabbitMqChannelLayer layer, int index, Dictionary<string, string[]> groups, Random random)
        {
            await Task.Yield();
            var names = groups.Keys.ToArray();
            for (var n = 1; !_stopSending.IsCancellationRequested; n++)
            {
                var group = names[random.Next(names.Length)];
                await Tracked($"{index}g{n}", groups[group], m => layer.GroupSendAsync(group, m));
                await Task.Delay(random.Next(1, 6));
            }
        }

        private async Task Tracked(string id, string[] recipients, Func<Dictionary<string, object?>, Task> send)
        {
            var sent = new Sent(id, recipients);
            _sent[id] = sent;
            try
            {
                await send(Tagged.Message(id)).WaitAsync(CallTimeout);
                sent.Confirmed = true;
            }
            catch (Exception e)
            {
                _problems.Enqueue($"send {id} failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
