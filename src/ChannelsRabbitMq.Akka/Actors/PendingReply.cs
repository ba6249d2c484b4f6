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
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        if (cancellationToken.CanBeCanceled)
            _cancelled = cancellationToken.UnsafeRegister(static (state, token) => ((PendingReply<T>)state!).TryCancel(token), this);
        if (layerClosed.CanBeCanceled)
            _closed = layerClosed.UnsafeRegister(static state => ((PendingReply<T>)state!).TryFail(new ChannelLayerClosedException()), this);
    }

    /// <summary>Runs once when the caller cancels (not when the layer closes), after the task is cancelled.</summary>
    public Action<PendingReply<T>>? OnCancelled { get; set; }

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
        OnCancelled?.Invoke(this);
    }

    // Unregister (not Dispose): it never waits for a callback that is running right now.
    private void Release()
    {
        _cancelled.Unregister();
        _closed.Unregister();
    }
}
