using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;

namespace Kirisame.Transport.WebSockets;

/// Presents a WebSocket to the broker as a byte stream. MQTT over WebSockets is a stream in binary
/// messages: a message may hold part of a packet or several packets [MQTT-6.0.0-2], so frames are simply
/// concatenated into the input pipe and the framing is the broker's as on TCP. Whatever the broker writes
/// goes out as binary messages, one per flushed batch. A text message closes the connection [MQTT-6.0.0-1].
internal sealed class WebSocketPipe : IDuplexPipe
{
    // Small segments: an idle WebSocket connection holds one receive buffer, and the broker's frame reader
    // already refuses packets above the maximum packet size before buffering them. The pause threshold bounds
    // what is read ahead of the broker, not the packet size: a pipe counts the bytes its reader has not yet
    // examined, and the broker examines all it is given while it waits for the rest of a packet (a 16 MiB packet
    // goes through: LargePacketTests). While the broker does not read (its budget for packets still arriving is
    // full), this is what the connection can hold beyond it.
    private static readonly PipeOptions s_options = new(minimumSegmentSize: 4096, pauseWriterThreshold: 256 * 1024,
        resumeWriterThreshold: 128 * 1024, useSynchronizationContext: false);

    private readonly WebSocket _socket;
    private readonly Pipe _input = new(s_options);
    private readonly Pipe _output = new(s_options);

    public WebSocketPipe(WebSocket socket) => _socket = socket;

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    /// Pumps both directions until the broker is done with the connection (<paramref name="served"/>) or
    /// the peer goes away, then closes the WebSocket.
    public async Task RunAsync(Task served, CancellationToken aborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var receiving = ReceiveAsync(stop.Token);
        var sending = SendAsync(stop.Token);
        await served;
        // The broker completed its output: let the sender finish (it sends the close frame), then give the
        // client a moment to answer with its own close frame. Aborting at once would reset the TCP connection,
        // and a reset can make the client's kernel drop the last packets (the DISCONNECT with the reason).
        await Task.WhenAny(sending, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
        await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
        stop.Cancel();
        await Task.WhenAll(Swallow(receiving), Swallow(sending));
    }

    private async Task ReceiveAsync(CancellationToken cancellationToken)
    {
        var writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory();
                var result = await _socket.ReceiveAsync(memory, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
                if (result.MessageType != WebSocketMessageType.Binary)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.InvalidMessageType, "MQTT needs binary frames", cancellationToken);
                    break;
                }

                writer.Advance(result.Count);
                var flush = await writer.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                    break;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            error = ex is OperationCanceledException ? null : ex;
        }
        finally
        {
            // The broker sees the end of the stream as the client going away (and publishes its will).
            await writer.CompleteAsync(error is null ? null : new IOException(error.Message, error));
        }
    }

    private async Task SendAsync(CancellationToken cancellationToken)
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    var position = buffer.Start;
                    var remaining = buffer.Length;
                    while (buffer.TryGet(ref position, out var segment))
                    {
                        remaining -= segment.Length;
                        await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: remaining == 0, cancellationToken);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                    break;
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer is gone; the broker notices through the input side.
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static async Task Swallow(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // Already handled inside the pumps; this only observes the task.
        }
    }
}
