using Akka.Event;
using ChannelsRabbitMq.Akka.Transport;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>Which side closed a connection dropped by <see cref="ChannelLayerFaults.DropConnectionAsync"/>.</summary>
public enum ConnectionDropSide
{
    /// <summary>The broker closed it (the in-memory broker, or <c>rabbitmqctl close_connection</c>), as an operator or a broker restart would.</summary>
    Broker,

    /// <summary>The client aborted it (RabbitMQ.Client <c>IConnection.AbortAsync</c>), as a network failure seen by the client would.</summary>
    Client,
}

/// <summary>
/// Scripted failures of one channel layer's connection, for tests of the code that uses the
/// layer: drop the connection, keep the broker "down", refuse sends as a full queue does, delay or
/// lose deliveries. Every fault has an awaitable signal, so tests need no sleeps. Get one from
/// <see cref="InMemoryChannelLayer.Faults"/> or <see cref="FaultyRabbitMqChannelLayer.Create"/>.
/// Thread-safe.
/// </summary>
/// <remarks>
/// The faults sit between the layer's actors and the broker (the in-memory one or RabbitMQ), so the
/// layer reacts exactly as it would to the real failure: it logs, reconnects with its
/// <c>ReconnectDelay</c>, replays its group bindings, and stashes sends made meanwhile.
/// </remarks>
public sealed class ChannelLayerFaults
{
    private readonly object _gate = new();
    private readonly Func<IAmqpSession, CancellationToken, Task<ConnectionDropSide>> _drop;
    private readonly List<(long AfterSequence, TaskCompletionSource Done)> _connectionWaiters = [];
    private readonly List<TaskCompletionSource<FaultInjectingSession>> _sessionWaiters = [];
    private readonly List<(int Count, TaskCompletionSource Done)> _refusalWaiters = [];
    private readonly FaultCountdown _sendFailures = new();
    private readonly FaultCountdown _deliveryDrops = new();
    private Func<CancellationToken, Task> _layerConnected = _ => Task.CompletedTask;
    private FaultInjectingSession? _current;
    private long _established;
    private long _faultMark;
    private long _outageGeneration;
    private bool _outage;
    private int _refusedAttempts;
    private long _deliveryDelayTicks;

    internal ChannelLayerFaults(Func<IAmqpSession, CancellationToken, Task<ConnectionDropSide>> drop)
    {
        _drop = drop;
    }

    /// <summary>True while <see cref="BeginOutageAsync"/> refuses connection attempts.</summary>
    public bool IsInOutage
    {
        get { lock (_gate) return _outage; }
    }

    /// <summary>Connections established so far (the first one included).</summary>
    public long ConnectionsEstablished => Interlocked.Read(ref _established);

    /// <summary>Connection attempts refused by outages so far.</summary>
    public int ConnectAttemptsRefused => Volatile.Read(ref _refusedAttempts);

    /// <summary>The delay currently applied to every delivery (<see cref="TimeSpan.Zero"/> for none).</summary>
    public TimeSpan DeliveryDelay => TimeSpan.FromTicks(Interlocked.Read(ref _deliveryDelayTicks));

    /// <summary>
    /// Drops the layer's connection now (waiting first for one, if the layer is between connections).
    /// The in-memory broker drops it from its side. For RabbitMQ the broker closes it
    /// (<c>rabbitmqctl close_connection</c>, see <see cref="RabbitMqFaultOptions.CtlCommand"/>),
    /// or, when that is not possible, the client aborts it. Either way the layer sees a lost
    /// connection and reconnects: await <see cref="WaitForReconnectAsync(CancellationToken)"/>.
    /// </summary>
    /// <returns>
    /// Which side closed it. Completes once the layer has been told: <see cref="IActorChannelLayer.GetStatistics"/>
    /// (and so the health check) says disconnected until the layer reconnects, and any call made
    /// afterwards waits for the next connection (it does not go down with the old one). The layer
    /// reconnects at once after a lost connection, so it may be connected again by the time you look.
    /// </returns>
    public async Task<ConnectionDropSide> DropConnectionAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var session = await CurrentSessionAsync(cancellationToken).ConfigureAwait(false);
            // Drop the connection the layer uses, not one it is still setting up.
            await WhenLayerUses(session, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (_current != session || !session.IsOpen) continue; // it went down by itself meanwhile
                _faultMark = Math.Max(_faultMark, session.Sequence);
            }
            var side = await _drop(session.Inner, cancellationToken).ConfigureAwait(false);
            await session.Ended.WaitAsync(cancellationToken).ConfigureAwait(false);
            return side;
        }
    }

    /// <summary>
    /// Takes the broker "down" for this layer: drops its connection (if it has one, as
    /// <see cref="DropConnectionAsync"/>) and refuses every connection attempt until
    /// <see cref="EndOutage()"/>, or until <paramref name="duration"/> has passed. The layer logs each
    /// refused attempt ("Failure connecting …") and retries every <c>ReconnectDelay</c>; calls made
    /// meanwhile wait. Await <see cref="WaitForReconnectAsync(CancellationToken)"/> for the end.
    /// </summary>
    /// <param name="duration">How long the outage lasts; null until <see cref="EndOutage()"/>.</param>
    /// <param name="cancellationToken">Cancels waiting for the drop (the outage stays on).</param>
    /// <returns>
    /// Completes once the current connection, if any, is dropped and the layer has been told:
    /// <see cref="IActorChannelLayer.GetStatistics"/> (and so the health check) says disconnected
    /// until the outage ends and the layer reconnects.
    /// </returns>
    public async Task BeginOutageAsync(TimeSpan? duration = null, CancellationToken cancellationToken = default)
    {
        if (duration is { } d && d <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), "An outage lasts a positive time.");
        FaultInjectingSession? session;
        long generation;
        lock (_gate)
        {
            _outage = true;
            generation = ++_outageGeneration;
            _faultMark = Math.Max(_faultMark, _established);
            session = _current;
        }
        if (duration is { } length)
            _ = Task.Delay(length, CancellationToken.None).ContinueWith(_ => EndOutage(generation), TaskScheduler.Default);
        if (session is not null && session.IsOpen)
        {
            await WhenLayerUses(session, cancellationToken).ConfigureAwait(false);
            if (session.IsOpen) await _drop(session.Inner, cancellationToken).ConfigureAwait(false);
            await session.Ended.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ends the outage: the layer's next attempt (within its <c>ReconnectDelay</c>) connects.</summary>
    public void EndOutage() => EndOutage(generation: null);

    /// <summary>
    /// Makes the next <paramref name="count"/> sends (<see cref="IChannelLayer.SendAsync"/>) of this
    /// layer fail with <see cref="ChannelFullException"/>, as if the destination queue were full:
    /// the broker's nack is simulated, the message is not delivered. Group sends are not affected.
    /// Calls add up.
    /// </summary>
    /// <returns>Completes once that many sends have been refused.</returns>
    public Task FailNextSends(int count) => _sendFailures.Arm(count);

    /// <summary>
    /// Loses the next <paramref name="count"/> messages delivered to this layer (direct or group):
    /// they are acked and never reach a receiver, as if lost on the way. Calls add up.
    /// </summary>
    /// <returns>Completes once that many deliveries have been dropped.</returns>
    public Task DropNextDeliveries(int count) => _deliveryDrops.Arm(count);

    /// <summary>
    /// Delays every delivery to this layer by <paramref name="delay"/> from now on (order is kept;
    /// each one holds its prefetch slot meanwhile, as on a slow network). <see cref="TimeSpan.Zero"/>
    /// stops delaying. Deliveries pending when the connection is lost are lost with it.
    /// </summary>
    public void DelayDeliveries(TimeSpan delay)
    {
        if (delay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(delay), "A delay cannot be negative.");
        Interlocked.Exchange(ref _deliveryDelayTicks, delay.Ticks);
    }

    /// <summary>
    /// Completes when the layer is connected again after the latest <see cref="DropConnectionAsync"/>,
    /// <see cref="BeginOutageAsync"/> or lost connection (whatever lost it, e.g.
    /// <see cref="InMemoryBroker.DropAllConnections"/> or a real broker restart): on a connection
    /// established after that, with its queue declared, its group bindings replayed and its consumer
    /// started. Completes at once if that has already happened; before any such event, when the
    /// layer is connected.
    /// </summary>
    /// <exception cref="ChannelLayerClosedException">The layer was closed.</exception>
    public async Task WaitForReconnectAsync(CancellationToken cancellationToken = default)
    {
        Task established;
        lock (_gate)
        {
            if (_established > _faultMark)
            {
                established = Task.CompletedTask;
            }
            else
            {
                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _connectionWaiters.Add((_faultMark, waiter));
                established = waiter.Task;
            }
        }
        await established.WaitAsync(cancellationToken).ConfigureAwait(false);
        // The layer's own view: its connection actor has taken the new connection into use (and
        // waits for the next one if that was lost already).
        await _layerConnected(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As <see cref="WaitForReconnectAsync(CancellationToken)"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task WaitForReconnectAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Within(WaitForReconnectAsync(cancellationToken), timeout, "the layer did not reconnect", cancellationToken);

    /// <summary>
    /// Completes once the layer has lost its connection and been told so (statistics and health
    /// check say disconnected, calls wait for the next connection): at once if it has none now
    /// (connecting, or in an outage), else when the current one is lost, whatever loses it.
    /// </summary>
    public Task WaitForDisconnectAsync(CancellationToken cancellationToken = default)
    {
        FaultInjectingSession? session;
        lock (_gate) session = _current;
        return session is null || !session.IsOpen ? Task.CompletedTask : session.Ended.WaitAsync(cancellationToken);
    }

    /// <summary>As <see cref="WaitForDisconnectAsync(CancellationToken)"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task WaitForDisconnectAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Within(WaitForDisconnectAsync(cancellationToken), timeout, "the layer did not lose its connection", cancellationToken);

    /// <summary>
    /// Completes once <see cref="ConnectAttemptsRefused"/> has reached <paramref name="count"/>
    /// (counted since the layer started, so pass the current value plus the attempts you wait for).
    /// </summary>
    public Task WaitForConnectAttemptsRefusedAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            if (_refusedAttempts >= count) return Task.CompletedTask;
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _refusalWaiters.Add((count, waiter));
            return waiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>As <see cref="WaitForConnectAttemptsRefusedAsync(int, CancellationToken)"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task WaitForConnectAttemptsRefusedAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Within(WaitForConnectAttemptsRefusedAsync(count, cancellationToken), timeout,
            $"{count} connection attempts were not refused (refused: {ConnectAttemptsRefused})", cancellationToken);

    /// <summary>Disarms every fault: ends the outage, stops delaying, fails and drops nothing more. Pending signals of disarmed faults are cancelled.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _outage = false;
            _outageGeneration++;
        }
        Interlocked.Exchange(ref _deliveryDelayTicks, 0);
        _sendFailures.Disarm();
        _deliveryDrops.Disarm();
    }

    // ------------------------------------------------------------------ called by the transport

    internal void AttachLayer(RabbitMqChannelLayer layer, global::Akka.Actor.ActorSystem system)
    {
        _layerConnected = layer.WaitForConnectionAsync;
        _counters = layer.Counters;
        _queueName = layer.QueueName;
        _log = Logging.GetLogger(system, $"ChannelsRabbitMq.Akka.TestKit.ChannelLayerFaults({layer.QueueName})");
    }

    private LayerCounters? _counters;
    private ILoggingAdapter? _log;
    private string _queueName = "";

    /// <summary>A connection attempt starts: refused during an outage.</summary>
    internal void OnConnectAttempt()
    {
        lock (_gate)
        {
            if (!_outage) return;
        }
        Refused();
        throw new SimulatedOutageException();
    }

    /// <summary>Counts a refused attempt and completes the waiters it satisfies.</summary>
    private void Refused()
    {
        TaskCompletionSource[] done;
        lock (_gate)
        {
            var refused = ++_refusedAttempts;
            done = _refusalWaiters.Where(w => w.Count <= refused).Select(w => w.Done).ToArray();
            _refusalWaiters.RemoveAll(w => w.Count <= refused);
        }
        foreach (var waiter in done) waiter.TrySetResult();
    }

    /// <summary>A session finished connecting; false (refuse it) when an outage began meanwhile.</summary>
    internal bool OnEstablished(FaultInjectingSession session)
    {
        TaskCompletionSource[] ready;
        TaskCompletionSource<FaultInjectingSession>[] sessionWaiters;
        lock (_gate)
        {
            if (!_outage)
            {
                session.Sequence = ++_established;
                _current = session;
                ready = _connectionWaiters.Where(w => session.Sequence > w.AfterSequence).Select(w => w.Done).ToArray();
                _connectionWaiters.RemoveAll(w => session.Sequence > w.AfterSequence);
                sessionWaiters = _sessionWaiters.ToArray();
                _sessionWaiters.Clear();
            }
            else
            {
                ready = [];
                sessionWaiters = [];
            }
        }
        if (session.Sequence == 0)
        {
            Refused();
            return false;
        }
        foreach (var waiter in ready) waiter.TrySetResult();
        foreach (var waiter in sessionWaiters) waiter.TrySetResult(session);
        return true;
    }

    /// <summary>A session was lost (<paramref name="lost"/>) or closed by the layer.</summary>
    internal void OnClosed(FaultInjectingSession session, bool lost)
    {
        lock (_gate)
        {
            if (_current == session) _current = null;
            // Whatever the cause, WaitForReconnectAsync now waits for a later connection.
            if (lost) _faultMark = Math.Max(_faultMark, session.Sequence);
        }
    }

    internal bool TryTakeSendFailure() => _sendFailures.TryTake();

    /// <summary>Takes one armed delivery drop, counting and logging it (before its signal completes), if armed.</summary>
    internal bool TryTakeDeliveryDrop() => _deliveryDrops.TryTake(() =>
    {
        _counters?.DroppedSimulated();
        _log?.Warning("Dropped a message delivered to queue {0}: lost on the way, as ChannelLayerFaults.DropNextDeliveries asked (simulated)", _queueName);
    });

    // ------------------------------------------------------------------ helpers

    private async Task<FaultInjectingSession> CurrentSessionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<FaultInjectingSession> next;
            lock (_gate)
            {
                if (_current is { IsOpen: true } current) return current;
                var waiter = new TaskCompletionSource<FaultInjectingSession>(TaskCreationOptions.RunContinuationsAsynchronously);
                _sessionWaiters.Add(waiter);
                next = waiter.Task;
            }
            var session = await next.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (session.IsOpen) return session;
        }
    }

    /// <summary>
    /// Completes once the layer has taken <paramref name="session"/> into use (its connection actor
    /// is connected: the newest established session is the one it uses), or once the session ended.
    /// </summary>
    private async Task WhenLayerUses(FaultInjectingSession session, CancellationToken cancellationToken)
    {
        var connected = _layerConnected(cancellationToken);
        await Task.WhenAny(connected, session.Ended).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (connected.IsCompleted) await connected.ConfigureAwait(false); // surfaces ChannelLayerClosedException
    }

    /// <summary><paramref name="signal"/>, or a <see cref="TimeoutException"/> saying what did not happen within <paramref name="timeout"/>.</summary>
    internal static async Task Within(Task signal, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        try
        {
            await signal.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"ChannelLayerFaults: {what} within {timeout}.");
        }
    }

    /// <inheritdoc cref="Within(Task, TimeSpan, string, CancellationToken)"/>
    internal static async Task<T> Within<T>(Task<T> signal, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        await Within((Task)signal, timeout, what, cancellationToken).ConfigureAwait(false);
        return await signal.ConfigureAwait(false);
    }

    private void EndOutage(long? generation)
    {
        lock (_gate)
        {
            if (generation is { } g && g != _outageGeneration) return; // a later outage, or a reset
            _outage = false;
        }
    }
}

/// <summary>A connection attempt refused by <see cref="ChannelLayerFaults.BeginOutageAsync"/>.</summary>
internal sealed class SimulatedOutageException() : Exception("Connection attempt refused: the broker is down (simulated outage).");

/// <summary>"The next N times": armed by tests, taken by the transport; signals when all armed so far are taken.</summary>
internal sealed class FaultCountdown
{
    private readonly object _gate = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private long _armed;
    private long _taken;

    /// <summary>Arms <paramref name="count"/> more (after those still armed); completes once they are taken.</summary>
    public Task Arm(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return Task.CompletedTask;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _armed += count;
            _waiters.Add((_armed, waiter));
        }
        return waiter.Task;
    }

    /// <summary>Takes one if armed; <paramref name="taken"/> runs before the signals it satisfies complete.</summary>
    public bool TryTake(Action? taken = null)
    {
        TaskCompletionSource[] done;
        lock (_gate)
        {
            if (_taken >= _armed) return false;
            _taken++;
            done = _waiters.Where(w => w.Target <= _taken).Select(w => w.Done).ToArray();
            _waiters.RemoveAll(w => w.Target <= _taken);
        }
        taken?.Invoke();
        foreach (var waiter in done) waiter.TrySetResult();
        return true;
    }

    /// <summary>Disarms the rest; their signals are cancelled.</summary>
    public void Disarm()
    {
        TaskCompletionSource[] cancelled;
        lock (_gate)
        {
            _armed = _taken;
            cancelled = _waiters.Select(w => w.Done).ToArray();
            _waiters.Clear();
        }
        foreach (var waiter in cancelled) waiter.TrySetCanceled();
    }
}
