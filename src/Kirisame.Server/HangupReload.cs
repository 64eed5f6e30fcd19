using System.Runtime.InteropServices;
using Kirisame.Broker.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// SIGHUP re-reads the password, ACL and token files (`systemctl reload`, the unit's ExecReload), as Mosquitto
/// does. They are re-read when they change anyway; the signal makes it happen now, and without a handler the
/// runtime's default for SIGHUP would end the broker.
internal sealed partial class HangupReload(ILogger<HangupReload> logger) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnHangup);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _registration?.Dispose();

    private void OnHangup(PosixSignalContext context)
    {
        context.Cancel = true; // handled: do not terminate
        var count = WatchedFile.RereadAll();
        LogReread(logger, count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SIGHUP: re-read {Count} password, ACL and token files")]
    private static partial void LogReread(ILogger logger, int count);
}
