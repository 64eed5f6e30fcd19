using System.Net;
using System.Net.Sockets;

namespace Kirisame.Bench.Clients;

/// The clients the connection scenario holds idle.
internal interface IIdleClients : IDisposable
{
    public int Connected { get; }

    public int Failed { get; }

    public string? FirstFailure { get; }

    /// PINGREQ on every open client.
    public void Ping();

    /// Clients the broker has not closed.
    public int CountOpen();
}

/// The portable clients: .NET sockets, a task per handshake in progress.
internal sealed class SocketClients : IIdleClients
{
    private readonly BenchConnection?[] _connections;
    private int _failed;
    private string? _firstFailure;

    private SocketClients(int count) => _connections = new BenchConnection?[count];

    public int Connected => _connections.Length - _failed;

    public int Failed => _failed;

    public string? FirstFailure => _firstFailure;

    public static async Task<SocketClients> OpenAsync(
        EndPoint broker, int count, int concurrency, Func<int, IPAddress?> sourceAddress, Func<int, string> clientId,
        Protocol.ProtocolVersion version, CancellationToken cancellationToken)
    {
        var clients = new SocketClients(count);
        var next = -1;
        var workers = new Task[concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    try
                    {
                        clients._connections[i] = await BenchConnection.OpenAsync(broker, sourceAddress(i), clientId(i), version, 64, cancellationToken);
                    }
                    catch (Exception ex) when (ex is SocketException or BenchException or IOException)
                    {
                        Interlocked.Increment(ref clients._failed);
                        Interlocked.CompareExchange(ref clients._firstFailure, $"connection {i}: {ex.Message}", null);
                    }
                }
            }, cancellationToken);
        }

        try
        {
            await Task.WhenAll(workers);
        }
        catch
        {
            clients.Dispose();
            throw;
        }

        return clients;
    }

    public void Ping()
    {
        foreach (var c in _connections)
        {
            try
            {
                c?.Socket.Send(Protocol.Codec.MqttEncoder.PingReq, SocketFlags.None);
            }
            catch (SocketException)
            {
            }
        }
    }

    /// A socket the broker closed is readable with nothing to read; a PINGRESP (2 bytes) may be waiting.
    public int CountOpen()
    {
        var open = 0;
        foreach (var c in _connections)
        {
            if (c is null)
                continue;
            try
            {
                if (!(c.Socket.Poll(0, SelectMode.SelectRead) && c.Socket.Available == 0))
                    open++;
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        return open;
    }

    /// DISCONNECT and close.
    public void Dispose()
    {
        foreach (var c in _connections)
        {
            if (c is null)
                continue;
            try
            {
                c.Socket.Send([0xE0, 0x00], SocketFlags.None);
            }
            catch (SocketException)
            {
            }

            c.Dispose();
        }
    }
}
