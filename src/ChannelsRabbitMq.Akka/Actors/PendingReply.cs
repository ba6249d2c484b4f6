namespace ChannelsRabbitMq.Akka.Actors;

/// <summary>
/// The caller's side of one Task API call as it travels through the actors. It completes with a
/// result, an exception, the caller's cancellation, or <see cref="ChannelLayerClosedException"/>
/// when the layer closes — whichever comes first. Continuations never run on an actor's thread.
/// </summary>
/// <remarks>
/// Actors complete it with the <c>Try*</c> methods and use their return value: a receive that was
/// cancelled a moment ago returns false, and the message it would have taken stays queued.
/// </remarks>
internal sealed class PendingReply<T> : TaskCompletionSource<T>
{
    private CancellationTokenRegistration _cancelled;
    private CancellationTokenRegistration _closed;

    public PendingReply(CancellationToken cancellationToken, CancellationToken layerClosed)
        : this(cancellationToken, layerClosed, completedOffActorThreads: false)
    {
    }

    /// <summary>
    /// With <paramref name="completedOffActorThreads"/>, the caller's continuation runs on the
    /// thread that completes the reply, as with any awaited task — for a reply completed only by
    /// code that never runs on an actor's thread (a publish on the caller's thread, completed from
    /// the client's confirmation on the thread pool). Its cancellation and the layer's close then
    /// complete it from the thread pool, never inside <c>Cancel()</c>.
    /// </summary>
    public PendingReply(CancellationToken cancellationToken, CancellationToken layerClosed, bool completedOffActorThreads)
        : base(completedOffActorThreads ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
    {
        if (completedOffActorThreads)
        {
            if (cancellationToken.CanBeCanceled)
                _cancelled = cancellationToken.UnsafeRegister(static (state, token) =>
                    ThreadPool.UnsafeQueueUserWorkItem(static s => s.Reply.TryCancel(s.Token), (Reply: (PendingReply<T>)state!, Token: token), preferLocal: false), this);
            if (layerClosed.CanBeCanceled)
                _closed = layerClosed.UnsafeRegister(static state =>
                    ThreadPool.UnsafeQueueUserWorkItem(static r => r.TryFail(new ChannelLayerClosedException()), (PendingReply<T>)state!, preferLocal: false), this);
            return;
        }
        if (cancellationToken.CanBeCanceled)
            _cancelled = cancellationToken.UnsafeRegister(static (state, token) => ((PendingReply<T>)state!).TryCancel(token), this);
        if (layerClosed.CanBeCanceled)
            _closed = layerClosed.UnsafeRegister(static state => ((PendingReply<T>)state!).TryFail(new ChannelLayerClosedException()), this);
    }

    public bool IsDone => Task.IsCompleted;

    public bool TrySucceed(T value)
    {
        if (!TrySetResult(value)) return false;
        Release();
        return true;
    }

    public bool TryFail(Exception exception)
    {
        if (!TrySetException(exception)) return false;
        Release();
        return true;
    }

    private void TryCancel(CancellationToken token)
    {
        if (!TrySetCanceled(token)) return;
        Release();
    }

    // Unregister (not Dispose): it never waits for a callback that is running right now.
    private void Release()
    {
        _cancelled.Unregister();
        _closed.Unregister();
    }
}
