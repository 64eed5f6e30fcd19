using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Kirisame.Server;

/// `Type=notify` (packaging/kirisame.service): READY=1 once every listener is bound and the broker serves,
/// STOPPING=1 when it begins to shut down, through Microsoft.Extensions.Hosting.Systemd. UseSystemd() would
/// switch this on only when systemd is the parent process; the socket systemd names is the surer sign, and
/// lets a test stand in for systemd.
internal static class SystemdNotification
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    public static void AddWhenAsked(IServiceCollection services)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(SocketVariable)))
            return;
        services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        // Replaces the console lifetime: SIGTERM stops the host, and the host's start and stop are reported.
        services.AddSingleton<IHostLifetime, SystemdLifetime>();
    }
}
