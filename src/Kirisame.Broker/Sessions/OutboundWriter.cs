using System.IO.Pipelines;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Sessions;

/// The outbound side of a connection: any thread enqueues; the writer, a thread-pool work item scheduled on
/// demand, drains the queue into the transport and flushes once per batch, or per FlushThreshold bytes of a larger
/// one. The queue is bounded for QoS 0 (dropped and counted beyond the bound); QoS 1/2 are bounded upstream by the
/// in-flight window and the session's pending queue. So a client that stops reading holds its queue limit plus one
/// flush slice.
///
/// What an entry becomes on the wire is the connection's business (<see cref="Write"/>: its protocol version,
/// topic aliases, packet size limit); when to write, how much, and what a slow or failed socket means is this
/// class's. A base class rather than a member, because a member would cost every idle connection another object
/// (its header and a reference, ~32 bytes at 15,000 connections is ~0.5 MB; see IdleConnectionFootprintTests).
internal abstract partial class OutboundWriter : IThreadPoolWorkItem
{
    /// The broker core serving the connection: the operator's until a CONNECT maps it to a tenant's (set once, by
    /// the handshake, before anything is queued; docs/adr/0021-tenants.md).
    private protected MqttBroker _broker;
    private protected readonly IDuplexPipe _transport;

    private protected OutboundWriter(MqttBroker broker, IDuplexPipe transport)
    {
        _broker = broker;
        _transport = transport;
    }

    /// Writes one entry in the client's encoding; returns the bytes it wrote. A PUBLISH's message is released by
    /// the caller afterwards.
    private protected abstract int Write(PipeWriter output, in Outbound item);

    /// A batch has been handed to the transport: what waits for this client's backlog to shrink may go on.
    private protected abstract void OnBatchWritten();

    /// Writing failed the ordinary way (the peer reset or closed the socket): nothing more will be written.
    private protected abstract void OnWriteFailed(Exception exception);

    /// Writing failed for a reason that is a bug or a surprise: nothing more will be written; the connection
    /// must close.
    private protected abstract void OnWriterFaulted(Exception exception);

    // The outbound queue: producers append to _incoming under the lock; the writer swaps it for the spare list
    // and drains it without the lock. Two small lists instead of a ConcurrentQueue, whose first segment alone
    // costs an idle connection over a kilobyte.
    // The connection itself is the outbound queue's monitor (nothing else locks it): no lock object per connection.
    private object _outboundLock => this;
    private List<Outbound>? _incoming;
    private List<Outbound>? _spare;
    private int _queuedCount;
    private long _queuedBytes;

    private protected enum OutboundKind : byte
    {
        Publish,
        Ack,
        Packet,
        PingResp,
        Close,
    }

    private protected readonly record struct Outbound(
        OutboundKind Kind,
        BrokerMessage? Message = null,
        QualityOfService QoS = QualityOfService.AtMostOnce,
        bool Retain = false,
        bool Dup = false,
        ushort PacketId = 0,
        uint[]? SubscriptionIds = null,
        PacketType AckType = PacketType.Reserved,
        ReasonCode Reason = ReasonCode.Success,
        MqttPacket? Packet = null);

    public int Backlog => Volatile.Read(ref _queuedCount);

    public long BacklogBytes => Volatile.Read(ref _queuedBytes);

    /// A flush is waiting for the socket to take what was written: the client reads slower than we write.
    public bool OutputBlocked => Volatile.Read(ref _flushWaiting);

    private bool _flushWaiting;

    /// Queues a PUBLISH. Returns false when a QoS 0 message may be dropped (its session's consumer is slow, see
    /// BackPressure) and the queue is over the limits.
    public bool TryEnqueuePublish(BrokerMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint[] subscriptionIds, bool mayDrop)
    {
        if (qos == QualityOfService.AtMostOnce && mayDrop
            && (Volatile.Read(ref _queuedCount) >= _broker.Options.MaxQueuedMessages || Volatile.Read(ref _queuedBytes) >= _broker.Options.MaxQueuedBytes))
        {
            return false;
        }

        Interlocked.Increment(ref _queuedCount);
        Interlocked.Add(ref _queuedBytes, message.Size);
        message.AddReference(); // released by the writer once written
        Append(new Outbound(OutboundKind.Publish, message, qos, retain, dup, packetId, subscriptionIds));
        Schedule();
        return true;
    }

    public void EnqueueRelease(ushort packetId, ReasonCode reason) => EnqueueAck(PacketType.PubRel, packetId, reason);

    private protected void EnqueueAck(PacketType type, ushort packetId, ReasonCode reason = ReasonCode.Success)
    {
        Append(new Outbound(OutboundKind.Ack, PacketId: packetId, AckType: type, Reason: reason));
        Schedule();
    }

    internal void EnqueuePacket(MqttPacket packet)
    {
        Append(new Outbound(OutboundKind.Packet, Packet: packet));
        Schedule();
    }

    private protected void EnqueuePingResp()
    {
        Append(new Outbound(OutboundKind.PingResp));
        Schedule();
    }

    private protected void EnqueueClose()
    {
        Append(new Outbound(OutboundKind.Close));
        Schedule();
    }

    private const int WriterIdle = 0;
    private const int WriterScheduled = 1;
    private const int WriterRunning = 2;
    private const int WriterRunningDirty = 3;
    private const int WriterDone = 4;

    private int _writerState;
    private long _lastWriteTicks;

    /// When the writer last took a batch (TimeProvider timestamp); housekeeping trims connections quiet both ways.
    internal long LastWriteTicks => Volatile.Read(ref _lastWriteTicks);
    private TaskCompletionSource? _writerFinished; // made only when someone waits: an idle connection holds none

    /// Completes when the writer has completed the transport's output.
    internal Task WriterFinished
    {
        get
        {
            if (Volatile.Read(ref _writerState) == WriterDone)
                return Task.CompletedTask;
            var finished = Volatile.Read(ref _writerFinished)
                ?? Interlocked.CompareExchange(ref _writerFinished, new(TaskCreationOptions.RunContinuationsAsynchronously), null)
                ?? _writerFinished!;
            if (Volatile.Read(ref _writerState) == WriterDone)
                finished.TrySetResult(); // finished while we made it
            return finished.Task;
        }
    }

    private void Append(in Outbound item)
    {
        lock (_outboundLock)
            (_incoming ??= new List<Outbound>(4)).Add(item);
    }

    /// Takes everything queued so far, leaving an empty list behind.
    private List<Outbound>? TakeBatch()
    {
        lock (_outboundLock)
        {
            var batch = _incoming;
            if (batch is null || batch.Count == 0)
                return null;
            _incoming = _spare;
            _spare = null;
            return batch;
        }
    }

    private void RecycleBatch(List<Outbound> batch)
    {
        // A busy connection keeps its lists (no allocation per batch); housekeeping trims idle ones (TrimIdle).
        // Not after the first batch, the CONNACK: most idle connections never get a second one, and a list kept
        // until housekeeping trims it is what a burst of connects measures (184 bytes each).
        batch.Clear();
        if (!_keepLists)
        {
            _keepLists = true;
            return;
        }

        lock (_outboundLock)
            _spare ??= batch;
    }

    private bool _keepLists;

    /// Lets go of the outbound lists once the connection has gone quiet, so an idle connection holds none (a
    /// burst's grown lists included). Called by housekeeping.
    internal void TrimIdle()
    {
        if (Volatile.Read(ref _writerState) != WriterIdle)
            return;
        lock (_outboundLock)
        {
            if (_incoming is { Count: 0 })
                _incoming = null;
            _spare = null;
        }
    }

    /// Makes sure the writer will run: queued to the thread pool as a work item when idle (no allocation),
    /// or told to go round once more when it is running.
    private void Schedule()
    {
        while (true)
        {
            switch (Volatile.Read(ref _writerState))
            {
                case WriterIdle:
                    if (Interlocked.CompareExchange(ref _writerState, WriterScheduled, WriterIdle) == WriterIdle)
                    {
                        if (t_reading == this)
                            _writerDeferred = true; // the read loop writes it when done with its bytes
                        else if (t_reading is null || !TryDeferToReadLoop()) // another connection's read loop may run it
                            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                        return;
                    }

                    break;
                case WriterRunning:
                    if (Interlocked.CompareExchange(ref _writerState, WriterRunningDirty, WriterRunning) == WriterRunning)
                        return;
                    break;
                default:
                    return; // already scheduled, already dirty, or finished
            }
        }
    }

    /// The connection whose read loop this thread is running, if any. What that loop queues for its own
    /// client (CONNACK, SUBACK, PUBACK, …) is written by the loop itself once it is done with the bytes it
    /// read (or before it waits), instead of by a work item: one thread-pool hop less per exchange.
    [ThreadStatic]
    private static OutboundWriter? t_reading;

    private bool _writerDeferred;

    /// The read loop starts on a batch of <paramref name="bytes"/>: what this thread queues for this connection is
    /// written at the end of it (see <see cref="Schedule"/>), and a small batch's subscribers' writers too.
    private protected void BeginReading(long bytes)
    {
        t_reading = this;
        BeginBatch(bytes);
    }

    /// The read loop goes on with its batch after waiting (see <see cref="WriteDeferred"/>, called before the wait).
    private protected void ResumeReading() => t_reading = this;

    /// Runs the writers that <see cref="Schedule"/> left to the read loop (its own, then those of the connections
    /// it published to); leaves this thread's read-loop mark.
    private protected void WriteDeferred()
    {
        t_reading = null;
        if (_writerDeferred)
        {
            _writerDeferred = false;
            ((IThreadPoolWorkItem)this).Execute();
        }

        RunInlineWriters();
    }

    /// The writer: drains the queue into the transport and flushes once per batch (or slice). Only one runs at a time.
    /// It is a plain method, not an async one, so that running it allocates nothing; a flush that has to wait
    /// (the client reads slower than we write) resumes it through a cached callback.
    void IThreadPoolWorkItem.Execute()
    {
        Volatile.Write(ref _writerState, WriterRunning);
        Drain();
    }

    /// A flush that has to wait and what comes after it; made at the first such wait and kept (most idle
    /// connections never have one).
    private FlushWait? _flushWait;

    private sealed class FlushWait(Action onFlushed)
    {
        public ValueTask<FlushResult> Flush { get; set; }

        /// The batch ended with a Close: the writer finishes after this flush.
        public bool Closing { get; set; }

        /// Resumes the writer (OnFlushed), made once.
        public Action OnFlushed { get; } = onFlushed;
    }

    /// Bytes the writer hands the transport before it flushes (a packet larger than this goes alone). A batch
    /// taken from the queue is written in slices of this size, each flushed before the next: what a client
    /// that does not read costs beyond its queue limit is one slice in the transport, not a whole batch (a
    /// queue's worth of bytes copied into one growing send buffer, while the queue filled up again behind it).
    internal const int FlushThreshold = 64 * 1024;

    // The batch being written when a flush had to wait, and the first of its entries not yet written. Entries
    // not yet written stay counted in _queuedCount/_queuedBytes, so they count towards the queue's limits.
    private List<Outbound>? _batch;
    private int _batchNext;

    /// Writes one entry; a PUBLISH leaves the queue's counts as it is written, and its message is released.
    private int WriteEntry(PipeWriter output, in Outbound item)
    {
        if (item.Kind != OutboundKind.Publish)
            return Write(output, item);
        var message = item.Message!;
        Interlocked.Decrement(ref _queuedCount);
        Interlocked.Add(ref _queuedBytes, -message.Size);
        try
        {
            return Write(output, item);
        }
        finally
        {
            message.Release();
        }
    }

    private void Drain()
    {
        var output = _transport.Output;
        try
        {
            while (true)
            {
                var closing = false;
                if ((_batch ?? TakeBatch()) is { } batch)
                {
                    _lastWriteTicks = _broker.TimeProvider.GetTimestamp();
                    var next = _batchNext;
                    var written = 0;
                    while (next < batch.Count && written < FlushThreshold)
                    {
                        var item = batch[next++];
                        if (item.Kind == OutboundKind.Close)
                        {
                            closing = true;
                            break;
                        }

                        written += WriteEntry(output, item);
                    }

                    // Publishers may be waiting for this client's backlog to shrink (back-pressure).
                    OnBatchWritten();

                    if (next < batch.Count && !closing)
                    {
                        _batch = batch; // the rest after this flush
                        _batchNext = next;
                    }
                    else
                    {
                        _batch = null;
                        _batchNext = 0;
                        RecycleBatch(batch);
                    }
                }

#pragma warning disable CA2012 // the ValueTask is consumed exactly once: here if complete, else in OnFlushed
                var flush = output.FlushAsync();
#pragma warning restore CA2012
                if (!flush.IsCompleted)
                {
                    Volatile.Write(ref _flushWaiting, true);
                    var wait = _flushWait ??= new FlushWait(OnFlushed);
                    wait.Flush = flush;
                    wait.Closing = closing;
                    flush.GetAwaiter().UnsafeOnCompleted(wait.OnFlushed);
                    return;
                }

                if (!ContinueAfterFlush(flush.Result, closing))
                    return;
            }
        }
        catch (Exception ex)
        {
            Failed(ex);
        }
    }

    /// The writer runs on a thread-pool thread (or a flush's completion), where an exception would end the process:
    /// whatever it throws ends this connection only, and nothing more is written.
    private void Failed(Exception exception)
    {
        FinishWriter();
        if (exception is IOException or OperationCanceledException or InvalidOperationException)
            OnWriteFailed(exception); // the peer reset or closed the socket
        else
            OnWriterFaulted(exception);
    }

    private void OnFlushed()
    {
        try
        {
            // Called by the flush's completion, so the ValueTask has completed.
#pragma warning disable CA2012
            var wait = _flushWait!;
            var result = wait.Flush.GetAwaiter().GetResult();
#pragma warning restore CA2012
            wait.Flush = default;
            Volatile.Write(ref _flushWaiting, false);
            if (ContinueAfterFlush(result, wait.Closing))
                Drain();
        }
        catch (Exception ex)
        {
            Failed(ex);
        }
    }

    /// After a flush: stop for good (closing, or the transport is gone), go idle, or go round again when
    /// something was queued meanwhile.
    private bool ContinueAfterFlush(FlushResult result, bool closing)
    {
        if (closing || result.IsCompleted || result.IsCanceled)
        {
            FinishWriter();
            return false;
        }

        if (_batch is not null)
            return true; // the rest of the batch; whatever was queued meanwhile has marked the state dirty
        if (Interlocked.CompareExchange(ref _writerState, WriterIdle, WriterRunning) == WriterRunning)
            return false;
        Volatile.Write(ref _writerState, WriterRunning);
        return true;
    }

    private void FinishWriter()
    {
        Volatile.Write(ref _writerState, WriterDone);
        try
        {
            _transport.Output.Complete();
        }
        catch (InvalidOperationException)
        {
        }

        Volatile.Read(ref _writerFinished)?.TrySetResult();
    }

    /// Stops waiting on a client that does not read: cancels a pending flush so the writer can finish.
    private protected void AbandonOutbound()
    {
        try
        {
            _transport.Output.CancelPendingFlush();
        }
        catch (ObjectDisposedException)
        {
            // The writer already completed the output, and a stream-backed PipeWriter (TLS) has then disposed
            // what CancelPendingFlush would use: nothing is pending.
        }

        EnqueueClose();
    }
}
