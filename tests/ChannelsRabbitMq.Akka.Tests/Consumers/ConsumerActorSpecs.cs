using System.Diagnostics;
using Akka.Actor;
using ChannelsRabbitMq.Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Consumers;

/// <summary>
/// The consumer base classes, <see cref="ChannelConsumerActor"/> (UntypedActor) and
/// <see cref="ReceiveChannelConsumerActor"/> (ReceiveActor): each spec runs against both.
/// </summary>
public sealed class ConsumerActorSpecs : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly InMemoryBroker _broker = new();

    public ConsumerActorSpecs(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output) { }

    public static TheoryData<string> Styles => ["untyped", "receive"];

    /// <summary>Asks a consumer for its channel name; answered once it has started.</summary>
    private sealed record GetChannel;

    private sealed record Join(string Group);

    private sealed record Leave(string Group);

    /// <summary>A typed channel message ("type": "note").</summary>
    private sealed record Note(string Text);

    // What a typed handler tells the probe: the text and the trace it runs in ("-" for none).
    private static string Noted(Note note) => $"note {note.Text} {Activity.Current?.TraceId.ToString() ?? "-"}";

    private sealed class UntypedMember : ChannelConsumerActor
    {
        private readonly IActorRef probe;

        public UntypedMember(IActorChannelLayer layer, IActorRef probe) : base(layer, "room")
        {
            this.probe = probe;
            ReceiveChannel<Note>(note => probe.Tell(Noted(note)));
        }

        protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message) => probe.Tell(message["text"]);

        protected override void OnOtherMessage(object message)
        {
            switch (message)
            {
                case GetChannel: Sender.Tell(ChannelName); break;
                case Join join: JoinGroupAsync(join.Group).PipeTo(Sender, success: () => "joined"); break;
                case Leave leave: LeaveGroupAsync(leave.Group).PipeTo(Sender, success: () => "left"); break;
                default: Unhandled(message); break;
            }
        }
    }

    private sealed class ReceiveMember : ReceiveChannelConsumerActor
    {
        private readonly IActorRef _probe;

        public ReceiveMember(IActorChannelLayer layer, IActorRef probe) : base(layer, "room")
        {
            _probe = probe;
            ReceiveChannel<Note>(note => _probe.Tell(Noted(note)));
            Receive<GetChannel>(_ => Sender.Tell(ChannelName));
            Receive<Join>(join => JoinGroupAsync(join.Group).PipeTo(Sender, success: () => "joined"));
            Receive<Leave>(leave => LeaveGroupAsync(leave.Group).PipeTo(Sender, success: () => "left"));
            Receive<ChannelLayerProtocol.Received>(other => _probe.Tell("other channel: " + other.Channel));
        }

        protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message) => _probe.Tell(message["text"]);
    }

    private IActorRef Start(string style, IActorChannelLayer layer) => Sys.ActorOf(style == "untyped"
        ? Props.Create(() => new UntypedMember(layer, TestActor))
        : Props.Create(() => new ReceiveMember(layer, TestActor)));

    private static Dictionary<string, object?> Text(string text) => new() { ["type"] = "chat.message", ["text"] = text };

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task It_handles_no_other_message_before_its_channel_is_subscribed_and_its_groups_joined(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);

        var member = Start(style, layer); // before the layer's first connection
        var channel = await member.Ask<string>(new GetChannel(), Timeout);

        Assert.StartsWith(layer.QueueName + "!specific.", channel);
        Assert.Equal(["room"], _broker.BindingKeys(layer.QueueName));
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task Its_groups_messages_are_pushed_to_OnChannelMessage_in_order(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        await layer.GroupSendAsync("room", Text("one")).WaitAsync(Timeout);
        await layer.GroupSendAsync("room", Text("two")).WaitAsync(Timeout);

        await ExpectMsgAsync("one", Timeout);
        await ExpectMsgAsync("two", Timeout);
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task It_joins_and_leaves_groups_while_it_runs(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        await member.Ask<string>(new Join("lobby"), Timeout);
        Assert.Equal(["lobby", "room"], _broker.BindingKeys(layer.QueueName));
        await member.Ask<string>(new Leave("room"), Timeout);

        Assert.Equal(["lobby"], _broker.BindingKeys(layer.QueueName));
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task On_stop_it_leaves_every_group(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        Watch(member);
        Sys.Stop(member);
        await ExpectTerminatedAsync(member, Timeout);

        await AwaitConditionAsync(() => Task.FromResult(_broker.BindingKeys(layer.QueueName).Count == 0), Timeout);
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task A_consumer_of_a_closed_layer_stops_instead_of_restarting_forever(string style)
    {
        var layer = _broker.CreateLayer(Sys);
        await layer.CloseAsync();

        var member = Start(style, layer);
        Watch(member);

        await ExpectTerminatedAsync(member, Timeout);
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task Typed_handlers_get_their_messages_mapped_and_other_types_go_to_OnChannelMessage(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        await layer.GroupSendAsync("room", new Note("typed")).WaitAsync(Timeout);
        await layer.GroupSendAsync("room", Text("untyped")).WaitAsync(Timeout);

        await ExpectMsgAsync("note typed -", Timeout);
        await ExpectMsgAsync("untyped", Timeout);
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task A_message_of_a_handled_type_that_does_not_map_is_logged_and_dropped_and_the_consumer_goes_on(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        await EventFilter.Warning(contains: "Dropped a message of type note").ExpectOneAsync(async () =>
            await layer.GroupSendAsync("room", new Dictionary<string, object?> { ["type"] = "note" }).WaitAsync(Timeout));
        await layer.GroupSendAsync("room", new Note("after")).WaitAsync(Timeout);

        await ExpectMsgAsync("note after -", Timeout);
    }

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task A_handler_runs_with_the_senders_trace_context_current(string style)
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start(style, layer);
        await member.Ask<string>(new GetChannel(), Timeout);
        using var request = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start();
        request.ActivityTraceFlags = ActivityTraceFlags.Recorded;

        await layer.GroupSendAsync("room", new Note("traced")).WaitAsync(Timeout);

        await ExpectMsgAsync($"note traced {request.TraceId}", Timeout);
    }

    [Fact]
    public async Task A_consumer_without_a_fallback_logs_and_drops_a_message_nobody_handles()
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Sys.ActorOf(Props.Create(() => new TypedOnly(layer, TestActor)));
        await member.Ask<string>(new GetChannel(), Timeout);

        await EventFilter.Warning(contains: "no handler for it").ExpectOneAsync(async () =>
            await layer.GroupSendAsync("room", Text("nobody's")).WaitAsync(Timeout));
        await layer.GroupSendAsync("room", new Note("handled")).WaitAsync(Timeout);

        await ExpectMsgAsync("note handled -", Timeout);
    }

    [Fact]
    public async Task Two_handlers_for_one_type_are_refused()
    {
        await using var layer = _broker.CreateLayer(Sys);
        var consumer = new ChannelConsumer(layer, []);
        consumer.AddHandler<Note>(_ => { });

        Assert.Throws<InvalidOperationException>(() => consumer.AddHandler<Note>(_ => { }));
    }

    private sealed class TypedOnly : ReceiveChannelConsumerActor
    {
        public TypedOnly(IActorChannelLayer layer, IActorRef probe) : base(layer, "room")
        {
            ReceiveChannel<Note>(note => probe.Tell(Noted(note)));
            Receive<GetChannel>(_ => Sender.Tell(ChannelName));
        }
    }

    [Fact]
    public async Task A_ReceiveActor_consumer_gets_messages_of_other_channels_in_its_own_handlers()
    {
        await using var layer = _broker.CreateLayer(Sys);
        var member = Start("receive", layer);
        await member.Ask<string>(new GetChannel(), Timeout);

        member.Tell(new ChannelLayerProtocol.Received(layer.QueueName + "!other", Text("not mine")));

        await ExpectMsgAsync("other channel: " + layer.QueueName + "!other", Timeout);
    }
}
