using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using ChannelsRabbitMq.Akka.TestKit;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.TestKit;

/// <summary>
/// A join made before the layer's first connection completes as soon as the connection does: no
/// timer, tick or retry stands between them, and no actor of the layer blocks a dispatcher thread
/// starting the actor system's scheduler (Akka's default scheduler starts on its first use and
/// blocks that caller until its worker runs on the thread pool; on a busy pool that took about a
/// second, and the first join of a test waited for it).
/// </summary>
public sealed class FirstConnectionSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static ActorSystem NewSystem(string scheduler) => ActorSystem.Create("first-connection",
        ConfigurationFactory.ParseString($"akka.scheduler.implementation = \"{scheduler}\""));

    [Fact]
    public async Task The_actor_system_scheduler_is_started_by_the_layer_constructor_not_by_one_of_its_actors()
    {
        var system = NewSystem(typeof(FirstUseRecordingScheduler).AssemblyQualifiedName!);
        try
        {
            var broker = new InMemoryBroker();
            var constructingThread = Environment.CurrentManagedThreadId;
            await using var layer = broker.CreateLayer(system);
            await layer.WaitForConnectionAsync().WaitAsync(Timeout);

            var scheduler = (FirstUseRecordingScheduler)system.Scheduler;
            Assert.Equal(constructingThread, scheduler.FirstUseThread);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task A_join_made_before_the_first_connection_completes_with_the_connection_without_the_clock_moving()
    {
        // Akka.TestKit's TestScheduler: time stands still unless the test advances it.
        var system = NewSystem("Akka.TestKit.TestScheduler, Akka.TestKit");
        try
        {
            var broker = new InMemoryBroker();
            await using var layer = broker.CreateLayer(system);
            var channel = await layer.NewChannelAsync();

            await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

            Assert.True(layer.GetStatistics().Connected);
            Assert.Equal(["room"], broker.BindingKeys(layer.QueueName));
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Writes how long the first join took (docs/testing.md quotes it); asserts only that it completed.</summary>
    [Fact]
    [Trait(TestBroker.Trait, TestBroker.RabbitMq)]
    public async Task A_join_made_before_the_first_connection_to_RabbitMQ_completes_with_the_connection()
    {
        var system = ActorSystem.Create("first-connection");
        try
        {
            var clock = Stopwatch.StartNew();
            await using var layer = new RabbitMqChannelLayer(system, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });
            var channel = await layer.NewChannelAsync();

            await layer.GroupAddAsync("room", channel).WaitAsync(Timeout);

            output.WriteLine($"first join, layer created to group joined: {clock.ElapsedMilliseconds} ms");
            clock.Restart();
            await using var second = new RabbitMqChannelLayer(system, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });
            await second.GroupAddAsync("room", await second.NewChannelAsync()).WaitAsync(Timeout);
            output.WriteLine($"second layer of the process, created to group joined: {clock.ElapsedMilliseconds} ms");
            Assert.True(layer.GetStatistics().Connected);
        }
        finally
        {
            await system.Terminate();
        }
    }
}

/// <summary>Akka's default scheduler, recording which thread used it first.</summary>
public sealed class FirstUseRecordingScheduler : SchedulerBase, IDisposable
{
    private readonly HashedWheelTimerScheduler _inner;
    private int _firstUseThread;

    public FirstUseRecordingScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        _inner = new HashedWheelTimerScheduler(scheduler, log);
    }

    /// <summary>The managed thread id of the first caller; 0 before any.</summary>
    public int FirstUseThread => Volatile.Read(ref _firstUseThread);

    protected override DateTimeOffset TimeNow => DateTimeOffset.UtcNow;

    public override TimeSpan MonotonicClock => _inner.MonotonicClock;

    public override TimeSpan HighResMonotonicClock => _inner.HighResMonotonicClock;

    private ITellScheduler Tells => Record(_inner);

    private IActionScheduler Actions => Record(_inner);

    private IRunnableScheduler Runnables => Record(_inner);

    private HashedWheelTimerScheduler Record(HashedWheelTimerScheduler inner)
    {
        Interlocked.CompareExchange(ref _firstUseThread, Environment.CurrentManagedThreadId, 0);
        return inner;
    }

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Tells.ScheduleTellOnce(delay, receiver, message, sender, cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender,
        ICancelable cancelable) =>
        Tells.ScheduleTellRepeatedly(initialDelay, interval, receiver, message, sender, cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) => Actions.ScheduleOnce(delay, action, cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) => Runnables.ScheduleOnce(delay, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Actions.ScheduleRepeatedly(initialDelay, interval, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Runnables.ScheduleRepeatedly(initialDelay, interval, action, cancelable);

    public void Dispose() => _inner.Dispose();
}
