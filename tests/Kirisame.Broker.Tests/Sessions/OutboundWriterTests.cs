using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests.Sessions;

/// The outbound writer on its own, over a real Pipe, with an encoding of its own (each entry as its packet id in
/// two bytes): what it writes, in what order, what a client that does not read costs, and what a failing write does.
public sealed class OutboundWriterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// Writes each PUBLISH as its packet id (2 bytes); throws on the packet id <see cref="FailOn"/>.
    private sealed class IdWriter(MqttBroker broker, IDuplexPipe transport) : OutboundWriter(broker, transport)
    {
        public int Batches;
        public Exception? Fault;
        public ushort FailOn { get; init; }

        public bool Enqueue(BrokerMessage message, ushort packetId, bool mayDrop = false) =>
            TryEnqueuePublish(message, packetId == 0 ? QualityOfService.AtMostOnce : QualityOfService.AtLeastOnce, false, false, packetId, [], mayDrop);

        public void Close() => EnqueueClose();

        private protected override int Write(PipeWriter output, in Outbound item)
        {
            if (item.PacketId == FailOn && FailOn != 0)
                throw new InvalidCastException("a bug in the encoding");
            BinaryPrimitives.WriteUInt16BigEndian(output.GetSpan(2), item.PacketId);
            output.Advance(2);
            return 2;
        }

        private protected override void OnBatchWritten() => Interlocked.Increment(ref Batches);

        private protected override void OnWriteFailed(Exception exception)
        {
        }

        private protected override void OnWriterFaulted(Exception exception) => Fault = exception;
    }

    private sealed class Transport(Pipe pipe) : IDuplexPipe
    {
        public PipeReader Input => throw new NotSupportedException();

        public PipeWriter Output => pipe.Writer;
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(10);
        }
    }

    private static BrokerMessage Message(int payloadBytes = 10) =>
        BrokerMessage.Rent("t", "t"u8.ToArray(), new byte[payloadBytes], QualityOfService.AtLeastOnce, false, default, null, 0);

    private static async Task<List<ushort>> ReadIdsAsync(PipeReader reader, int count)
    {
        var ids = new List<ushort>();
        var two = new byte[2];
        using var timeout = new CancellationTokenSource(Deadline);
        while (ids.Count < count)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            while (buffer.Length >= 2 && ids.Count < count)
            {
                buffer.Slice(0, 2).CopyTo(two);
                ids.Add(BinaryPrimitives.ReadUInt16BigEndian(two));
                buffer = buffer.Slice(2);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        return ids;
    }

    [Fact]
    public async Task Publishes_are_written_in_order_and_leave_the_queue_with_their_references()
    {
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 });
        var pipe = new Pipe();
        var writer = new IdWriter(broker, new Transport(pipe));
        var messages = Enumerable.Range(0, 3).Select(_ => Message()).ToArray();
        for (var i = 0; i < messages.Length; i++)
            Assert.True(writer.Enqueue(messages[i], (ushort)(i + 1)));

        Assert.Equal([1, 2, 3], await ReadIdsAsync(pipe.Reader, 3));
        await UntilAsync(() => writer.Backlog == 0 && writer.BacklogBytes == 0, Deadline);
        Assert.True(writer.Batches >= 1);
        // The writer released the reference it took for each: the caller's own is the last one.
        foreach (var message in messages)
            Assert.Equal(1, message.References);
    }

    [Fact]
    public async Task A_client_that_does_not_read_blocks_the_flush_and_a_full_queue_refuses_only_what_may_be_dropped()
    {
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0, MaxQueuedMessages = 2 });
        // The pipe pauses its writer after 64 bytes until the reader takes them: the client "does not read".
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64, resumeWriterThreshold: 32, useSynchronizationContext: false));
        var writer = new IdWriter(broker, new Transport(pipe));
        for (ushort id = 1; id <= 40; id++)
            Assert.True(writer.Enqueue(Message(), id)); // 80 bytes: over the threshold
        await UntilAsync(() => writer.OutputBlocked, Deadline);

        // Queued behind the blocked flush: the queue fills up.
        Assert.True(writer.Enqueue(Message(), 0, mayDrop: true));
        Assert.True(writer.Enqueue(Message(), 0, mayDrop: true));
        Assert.True(writer.Backlog >= 2);
        // Over the limit: a QoS 0 message to a slow consumer may be dropped (the caller counts it) ...
        Assert.False(writer.Enqueue(Message(), 0, mayDrop: true));
        // ... but one that may not be dropped is queued all the same (the in-flight window bounds QoS 1/2).
        Assert.True(writer.Enqueue(Message(), 41, mayDrop: true));
        Assert.True(writer.Enqueue(Message(), 0, mayDrop: false));

        // The client reads: everything queued arrives, in order, and the flush is no longer blocked.
        var ids = await ReadIdsAsync(pipe.Reader, 44);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ushort)i), ids.Take(40));
        Assert.Equal([0, 0, 41, 0], ids.Skip(40));
        await UntilAsync(() => !writer.OutputBlocked && writer.Backlog == 0, Deadline);
    }

    [Fact]
    public async Task A_write_that_throws_ends_the_writer_and_completes_the_output()
    {
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 });
        var pipe = new Pipe();
        var writer = new IdWriter(broker, new Transport(pipe)) { FailOn = 2 };
        writer.Enqueue(Message(), 1);
        writer.Enqueue(Message(), 2);

        await writer.WriterFinished.WaitAsync(Deadline);
        Assert.IsType<InvalidCastException>(writer.Fault);
        // The output is completed: the reader sees the end, after what was written before the fault (if flushed).
        using var timeout = new CancellationTokenSource(Deadline);
        ReadResult result;
        do
        {
            result = await pipe.Reader.ReadAsync(timeout.Token);
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }
        while (!result.IsCompleted);
        // Nothing is written after the writer finished.
        Assert.True(writer.Enqueue(Message(), 3));
        Assert.Equal(TaskStatus.RanToCompletion, writer.WriterFinished.Status);
    }

    [Fact]
    public async Task A_close_finishes_the_writer_after_what_was_queued_before_it()
    {
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 });
        var pipe = new Pipe();
        var writer = new IdWriter(broker, new Transport(pipe));
        writer.Enqueue(Message(), 7);
        writer.Close();

        await writer.WriterFinished.WaitAsync(Deadline);
        var ids = new List<ushort>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            var result = await pipe.Reader.ReadAsync(timeout.Token);
            var bytes = result.Buffer.ToArray();
            for (var i = 0; i + 1 < bytes.Length; i += 2)
                ids.Add(BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(i)));
            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }

        Assert.Null(writer.Fault);
        Assert.Equal([7], ids);
    }
}
