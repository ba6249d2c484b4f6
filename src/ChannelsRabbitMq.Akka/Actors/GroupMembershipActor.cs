using Akka.Actor;

namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// Which local channels belong to which group. The first local member of a group binds the
/// layer's queue to the groups exchange; the last one to leave unbinds it. Every change is told
/// to the router before the binding changes, so a message routed by a new binding always finds
/// its members. After a reconnect the connection actor asks for <see cref="Groups"/> and replays
/// every binding before it lets traffic through; groups left since the last replay are
/// forgotten only once a replay has unbound them (<see cref="ReplayDone"/>), so a replay that
/// fails half-way loses no unbind.
/// </summary>
internal sealed class GroupMembershipActor : UntypedActor
{
    private readonly IActorRef _router;
    private readonly IActorRef _connection;
    private readonly Dictionary<string, HashSet<string>> _members = new(StringComparer.Ordinal);

    // The bind of a group's first member, while it runs: later members complete with it.
    private readonly Dictionary<string, Task> _bindsInFlight = new(StringComparer.Ordinal);

    // Groups whose last member left since the last replay (their unbind may have been lost).
    private readonly HashSet<string> _left = new(StringComparer.Ordinal);

    public GroupMembershipActor(IActorRef router, IActorRef connection)
    {
        _router = router;
        _connection = connection;
    }

    public static Props Props(IActorRef router, IActorRef connection) =>
        global::Akka.Actor.Props.Create(() => new GroupMembershipActor(router, connection));

    /// <summary>Adds a channel to a group; completes once the group is bound.</summary>
    public sealed record Add(string Group, string Channel, PendingReply<Done> Reply);

    /// <summary>Removes a channel from a group; completes once unbound if it was the last member.</summary>
    public sealed record Discard(string Group, string Channel, PendingReply<Done> Reply);

    /// <summary>Asks for every group with a local member (answered with <see cref="Groups"/>).</summary>
    public sealed class GetGroups
    {
        public static GetGroups Instance { get; } = new();
        private GetGroups() { }
    }

    /// <summary>A replay succeeded: the groups of <paramref name="Unbound"/> left were unbound (or their queue is new).</summary>
    public sealed record ReplayDone(IReadOnlyList<string> Unbound);

    /// <summary>
    /// Every group with at least one local member, and the groups whose last member left since
    /// the last successful replay: a queue that outlived its connection may still be bound to those.
    /// </summary>
    public sealed record Groups(IReadOnlyList<string> Names, IReadOnlyList<string> LeftSinceLastReplay);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Add add:
                OnAdd(add);
                break;
            case Discard discard:
                OnDiscard(discard);
                break;
            case GetGroups:
                Sender.Tell(new Groups(_members.Keys.ToArray(), _left.Where(g => !_members.ContainsKey(g)).ToArray()));
                break;
            case ReplayDone done:
                // A group left again after that replay started is still in _left, to be unbound next time.
                foreach (var group in done.Unbound) _left.Remove(group);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnAdd(Add add)
    {
        if (!_members.TryGetValue(add.Group, out var members))
        {
            members = new HashSet<string>(StringComparer.Ordinal) { add.Channel };
            _members.Add(add.Group, members);
            _router.Tell(new RouterActor.GroupMembersChanged(add.Group, [add.Channel]));
            // The binding must happen even if this caller stops waiting: it is not the caller's.
            var bound = new TaskCompletionSource<Done>(TaskCreationOptions.RunContinuationsAsynchronously);
            _bindsInFlight[add.Group] = bound.Task;
            _connection.Tell(new ConnectionActor.Bind(add.Group, bound));
            CompleteWhenDone(bound.Task, add.Reply);
            return;
        }

        if (members.Add(add.Channel))
            _router.Tell(new RouterActor.GroupMembersChanged(add.Group, members.ToArray()));

        if (_bindsInFlight.TryGetValue(add.Group, out var bind) && !bind.IsCompleted)
        {
            CompleteWhenDone(bind, add.Reply);
        }
        else
        {
            _bindsInFlight.Remove(add.Group);
            add.Reply.TrySucceed(Done.Instance);
        }
    }

    private void OnDiscard(Discard discard)
    {
        if (!_members.TryGetValue(discard.Group, out var members) || !members.Remove(discard.Channel))
        {
            discard.Reply.TrySucceed(Done.Instance);
            return;
        }

        _router.Tell(new RouterActor.GroupMembersChanged(discard.Group, members.ToArray()));
        if (members.Count > 0)
        {
            discard.Reply.TrySucceed(Done.Instance);
            return;
        }

        _members.Remove(discard.Group);
        _bindsInFlight.Remove(discard.Group);
        _left.Add(discard.Group);
        var unbound = new TaskCompletionSource<Done>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.Tell(new ConnectionActor.Unbind(discard.Group, unbound));
        CompleteWhenDone(unbound.Task, discard.Reply);
    }

    private static void CompleteWhenDone(Task operation, PendingReply<Done> reply) =>
        operation.ContinueWith(static (task, state) =>
            {
                var pending = (PendingReply<Done>)state!;
                if (task.Exception is { } failure) pending.TryFail(failure.GetBaseException());
                else pending.TrySucceed(Done.Instance);
            }, reply, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
