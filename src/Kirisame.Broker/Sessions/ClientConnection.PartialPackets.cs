using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// The connection's side of the broker's budget for packets still arriving (<see cref="PartialPacketBudget"/>,
/// Broker:MaxPartialPacketBytes): the read loop asks before each read, and the reservation goes back when the
/// packet has been handled or the connection closes.
internal sealed partial class ClientConnection
{
    /// Bytes this connection holds from the budget: the whole length of the large packet it is receiving, or 0.
    /// Only the read loop (and, after it, CloseAsync) touches it.
    private int _partialPacketBytes;

    /// Before each read. A packet over <see cref="PartialPacketBudget.SmallPacketBytes"/> that has begun to arrive
    /// gets its length reserved before more of it is read; what the previous large packet held goes back, since
    /// the frame reader has moved past it, so it has been handled. False: stop reading — the connection is closing,
    /// or the budget stayed full for Broker:PartialPacketWaitTimeout and the connection is being closed for it.
    private ValueTask<bool> ReservePartialPacketAsync()
    {
        var pending = _frameReader.PendingPacketLength;
        var needed = pending > PartialPacketBudget.SmallPacketBytes ? pending : 0;
        if (needed == _partialPacketBytes)
            return new(true); // nothing large arriving (the common case), or the same packet still is
        ReleasePartialPacket();
        if (needed == 0 || _broker.PartialPackets.TryReserve(needed))
        {
            _partialPacketBytes = needed;
            return new(true);
        }

        return WaitForPartialPacketBudgetAsync(needed);
    }

    private async ValueTask<bool> WaitForPartialPacketBudgetAsync(int bytes)
    {
        var budget = _broker.PartialPackets;
        var timeout = _broker.Options.PartialPacketWaitTimeout;
        var closeRequested = CloseRequested; // made before IsClosing is read, so a close from now on ends the wait
        if (IsClosing)
            return false;
        if (await budget.ReserveAsync(bytes, timeout, closeRequested.Task, _broker.TimeProvider))
        {
            _partialPacketBytes = bytes;
            return true;
        }

        if (IsClosing)
            return false;
        if (closeRequested.Task.IsCompleted)
            return true; // the transport has closed: nothing more can arrive, so what it holds is read as it is

        if (MayLog("partial packet budget"))
        {
            Logger.LogWarning("{Who} ({Remote}) is sending a {Bytes}-byte packet, but packets being received already hold "
                + "Broker:MaxPartialPacketBytes ({Budget} bytes) and no room came free within {Timeout}; closing",
                IsEstablished ? "Client " + LogName : "Connection " + Info.ConnectionId, Info.RemoteEndPoint, bytes, budget.Capacity, timeout);
        }

        RequestClose(ReasonCode.ServerBusy, "too many large packets are arriving at once");
        return false;
    }

    /// Returns what the connection holds from the budget (after a packet, and when the connection closes).
    private void ReleasePartialPacket()
    {
        if (_partialPacketBytes == 0)
            return;
        _broker.PartialPackets.Release(_partialPacketBytes);
        _partialPacketBytes = 0;
    }
}
