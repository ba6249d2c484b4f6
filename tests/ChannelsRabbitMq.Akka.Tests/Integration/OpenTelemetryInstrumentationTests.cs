using System.Diagnostics;
using Akka.Actor;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// The layer as an OpenTelemetry user sets it up (<c>AddChannelsRabbitMqInstrumentation()</c> on
/// both builders, the in-memory exporter), against the real broker: one trace across two layers,
/// span names and attributes after the messaging conventions, baggage carried, the histograms
/// filled, and the process's configured propagator used on both sides.
/// </summary>
[Collection(nameof(OpenTelemetryInstrumentationTests))] // the providers and the propagator are process-wide
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class OpenTelemetryInstrumentationTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly ActorSystem _system = ActorSystem.Create("otel");
    private readonly List<Activity> _spans = [];
    private readonly List<MetricSnapshot> _metrics = []; // snapshots: a Metric's points are reused after an export
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _meters;

    public OpenTelemetryInstrumentationTests()
    {
        // <snippet:opentelemetry>
        _tracing = Sdk.CreateTracerProviderBuilder().AddChannelsRabbitMqInstrumentation().AddInMemoryExporter(_spans).Build()!;
        _meters = Sdk.CreateMeterProviderBuilder().AddChannelsRabbitMqInstrumentation().AddInMemoryExporter(_metrics).Build()!;
        // </snippet:opentelemetry>
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _tracing.Dispose();
        _meters.Dispose();
        await _system.Terminate();
    }

    private RabbitMqChannelLayer Layer() => new(_system, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });

    [Fact]
    public async Task A_send_and_its_receive_on_another_layer_are_one_trace_and_fill_the_histograms()
    {
        await using var sender = Layer();
        await using var receiver = Layer();
        var channel = await receiver.NewChannelAsync();
        await receiver.WaitForConnectionAsync().WaitAsync(Timeout);
        var waiting = receiver.ReceiveAsync(channel); // a receive that waits: the receive histogram
        using (var request = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start()) // a sampled incoming request, say
        {
            request.ActivityTraceFlags = ActivityTraceFlags.Recorded;
            request.SetBaggage("tenant", "acme");
            await sender.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);
        }
        await waiting.WaitAsync(Timeout);
        _tracing.ForceFlush();

        var send = Assert.Single(_spans, s => s.Kind == ActivityKind.Producer && Tag(s, "messaging.destination.name") == channel);
        var receive = Assert.Single(_spans, s => s.Kind == ActivityKind.Consumer && Tag(s, "messaging.destination.name") == channel);
        Assert.Equal(send.TraceId, receive.TraceId);
        Assert.Equal(send.SpanId, receive.ParentSpanId);
        Assert.Equal("send", send.DisplayName); // no random channel name in a span name
        Assert.Equal("receive", receive.DisplayName);
        Assert.Equal("rabbitmq", Tag(send, "messaging.system"));
        Assert.Equal(true, send.GetTagItem("messaging.destination.temporary"));
        Assert.Equal("acme", receive.GetBaggageItem("tenant"));

        // A span ends before its receiver resumes; the receive's measurements are taken just after
        // the hand-over (on the thread that completed it), so they are awaited, not assumed.
        await EventuallyAsync(() =>
        {
            _meters.ForceFlush();
            Assert.Contains(Points("messaging.client.operation.duration", sender.QueueName), p => p.Operation == "send" && p.Count > 0);
            Assert.Contains(Points("messaging.client.operation.duration", receiver.QueueName), p => p.Operation == "receive" && p.Count > 0);
            Assert.Contains(Points("channels_rabbitmq.local_buffer.duration", receiver.QueueName), p => p.Count > 0);
            Assert.Contains(Points("messaging.client.sent.messages", sender.QueueName), p => p.Operation == "send" && p.Sum >= 1);
            Assert.Contains(Points("messaging.client.consumed.messages", receiver.QueueName), p => p.Operation == "receive" && p.Sum >= 1);
        });
    }

    // Retries the assertions until they pass or Timeout has passed (then the last failure is thrown).
    private static async Task EventuallyAsync(Action assertions)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                assertions();
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20));
            }
        }
    }

    [Fact]
    public async Task A_group_send_is_named_after_its_group()
    {
        await using var layer = Layer();
        var channel = await layer.NewChannelAsync();
        var group = "otel-" + Guid.NewGuid().ToString("N")[..12];
        await layer.GroupAddAsync(group, channel).WaitAsync(Timeout);

        await layer.GroupSendAsync(group, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);
        _tracing.ForceFlush();

        var send = Assert.Single(_spans, s => s.Kind == ActivityKind.Producer && Tag(s, "messaging.destination.name") == group);
        Assert.Equal($"send {group}", send.DisplayName);
        Assert.Null(send.GetTagItem("messaging.destination.temporary"));
    }

    [Fact]
    public async Task The_configured_propagator_writes_and_reads_the_headers()
    {
        var configured = DistributedContextPropagator.Current;
        DistributedContextPropagator.Current = new RenamingPropagator(configured);
        try
        {
            await using var sender = Layer();
            await using var receiver = Layer();
            var channel = await receiver.NewChannelAsync();
            await receiver.WaitForConnectionAsync().WaitAsync(Timeout);

            await sender.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "traced" }).WaitAsync(Timeout);
            await receiver.ReceiveAsync(channel).WaitAsync(Timeout);
            _tracing.ForceFlush();

            var send = Assert.Single(_spans, s => s.Kind == ActivityKind.Producer && Tag(s, "messaging.destination.name") == channel);
            var receive = Assert.Single(_spans, s => s.Kind == ActivityKind.Consumer && Tag(s, "messaging.destination.name") == channel);
            Assert.Equal(send.SpanId, receive.ParentSpanId); // carried in "x-renamed-traceparent" only
        }
        finally
        {
            DistributedContextPropagator.Current = configured;
        }
    }

    private static string? Tag(Activity activity, string name) => activity.GetTagItem(name) as string;

    private IEnumerable<(string? Operation, long Count, double Sum)> Points(string metric, string queue)
    {
        foreach (var m in _metrics.Where(m => m.Name == metric))
            foreach (var point in m.MetricPoints)
            {
                string? operation = null, pointQueue = null;
                foreach (var tag in point.Tags)
                {
                    if (tag.Key == "messaging.operation.name") operation = tag.Value as string;
                    if (tag.Key == ChannelLayerTelemetry.QueueTag) pointQueue = tag.Value as string;
                }
                if (pointQueue != queue) continue;
                var isHistogram = m.MetricType == MetricType.Histogram;
                yield return (operation, isHistogram ? point.GetHistogramCount() : 1,
                    isHistogram ? point.GetHistogramSum() : point.GetSumLong());
            }
    }

    /// <summary>A propagator that carries the inner one's fields under other names: only a layer that uses it finds the trace.</summary>
    private sealed class RenamingPropagator(DistributedContextPropagator inner) : DistributedContextPropagator
    {
        private const string Prefix = "x-renamed-";

        public override IReadOnlyCollection<string> Fields => inner.Fields.Select(f => Prefix + f).ToArray();

        public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
            inner.Inject(activity, carrier, (c, name, value) => setter!(c, Prefix + name, value));

        public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState) =>
            inner.ExtractTraceIdAndState(carrier, Renamed(getter), out traceId, out traceState);

        public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
            inner.ExtractBaggage(carrier, Renamed(getter));

        private static PropagatorGetterCallback Renamed(PropagatorGetterCallback? getter) =>
            (object? c, string name, out string? value, out IEnumerable<string>? values) => getter!(c, Prefix + name, out value, out values);
    }
}

/// <summary>Runs alone: one of its tests replaces the process's propagator, which every other test's traces use.</summary>
[CollectionDefinition(nameof(OpenTelemetryInstrumentationTests), DisableParallelization = true)]
public sealed class OpenTelemetryInstrumentationCollection;
