using Akka.Event;
using Akka.Streams;
using Akka.Streams.Stage;

namespace ChannelsRabbitMq.Akka.Streams;

/// <summary>
/// The stage behind <see cref="ChannelLayerSource"/>: one <see cref="IChannelLayer.ReceiveAsync"/>
/// per pull, none without one. When the stream stops (downstream cancelled, the stream failed)
/// the receive it waits on is cancelled, which takes nothing; a message handed over in that very
/// instant goes back to the head of its channel.
/// </summary>
internal sealed class ChannelSourceStage : GraphStage<SourceShape<IReadOnlyDictionary<string, object?>>>
{
    private readonly IChannelLayer _layer;
    private readonly string _channel;

    public ChannelSourceStage(IChannelLayer layer, string channel)
    {
        _layer = layer;
        _channel = channel;
        Shape = new SourceShape<IReadOnlyDictionary<string, object?>>(Out);
    }

    public Outlet<IReadOnlyDictionary<string, object?>> Out { get; } = new("ChannelLayerSource.out");

    public override SourceShape<IReadOnlyDictionary<string, object?>> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("channelLayerSource");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly ChannelSourceStage _stage;
        private readonly CancellationTokenSource _stopped = new();
        private readonly object _gate = new();
        private Action<Task<IReadOnlyDictionary<string, object?>>>? _onReceived;
        private IReadOnlyDictionary<string, object?>? _onItsWay; // received, not yet pushed (under _gate)
        private bool _stopping;
        private ILoggingAdapter? _log; // taken in PreStart: a message may come back on another thread

        public Logic(ChannelSourceStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.Out, this);
        }

        public override void PreStart()
        {
            _onReceived = GetAsyncCallback<Task<IReadOnlyDictionary<string, object?>>>(OnReceived);
            _log = Log;
        }

        public override void OnPull()
        {
            var receive = _stage._layer.ReceiveAsync(_stage._channel, _stopped.Token);
            if (receive.IsCompletedSuccessfully) Push(_stage.Out, receive.Result);
            else receive.ContinueWith(HandOver, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        // On the thread that completed the receive: into the stage, unless it has stopped.
        private void HandOver(Task<IReadOnlyDictionary<string, object?>> receive)
        {
            lock (_gate)
            {
                if (!_stopping)
                {
                    if (receive.IsCompletedSuccessfully) _onItsWay = receive.Result;
                    _onReceived!(receive);
                    return;
                }
            }
            if (receive.IsCompletedSuccessfully) GiveBack(receive.Result);
        }

        private void OnReceived(Task<IReadOnlyDictionary<string, object?>> receive)
        {
            if (receive.IsCompletedSuccessfully)
            {
                lock (_gate) _onItsWay = null;
                Push(_stage.Out, receive.Result);
            }
            else if (receive.IsCanceled) CompleteStage(); // only this stage cancels its receives
            else if (receive.Exception!.InnerException is ChannelLayerClosedException { InnerException: null }) CompleteStage(); // an orderly close
            else FailStage(receive.Exception.InnerException!);
        }

        public override void PostStop()
        {
            IReadOnlyDictionary<string, object?>? unpushed;
            lock (_gate)
            {
                _stopping = true;
                unpushed = _onItsWay;
                _onItsWay = null;
            }
            _stopped.Cancel();
            _stopped.Dispose();
            if (unpushed is not null) GiveBack(unpushed);
        }

        private void GiveBack(IReadOnlyDictionary<string, object?> message)
        {
            if (_stage._layer is IReturnsUnreceived layer) layer.ReturnUnreceived(_stage._channel, message);
            else
                _log?.Warning("A message of channel {0} arrived as its stream stopped; {1} cannot take it back, so it is dropped",
                    _stage._channel, _stage._layer.GetType().Name);
        }
    }
}
