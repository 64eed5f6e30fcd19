using System.Net;
using System.Net.Sockets;
using Kirisame.Bench.Scenarios;

namespace Kirisame.Bench;

/// The load generator's entry point: runs one scenario against a broker and reports what it measured.
public static class BenchRunner
{
    public static async Task<BenchResult> RunAsync(BenchOptions options, CancellationToken cancellationToken = default)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        var resolved = options.Resolve();
        var broker = await ResolveAsync(resolved.Host, resolved.Port, cancellationToken);
        var subscribers = resolved.SubscriberPort == 0 ? broker : new IPEndPoint(broker.Address, resolved.SubscriberPort);
        return resolved.Scenario == Scenario.Connections
            ? await ConnectionScenario.RunAsync(resolved, broker, cancellationToken)
            : await MessageScenario.RunAsync(resolved, broker, subscribers, cancellationToken);
    }

    private static async Task<IPEndPoint> ResolveAsync(string host, int port, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var address))
            return new IPEndPoint(address, port);
        foreach (var candidate in await Dns.GetHostAddressesAsync(host, cancellationToken))
            if (candidate.AddressFamily == AddressFamily.InterNetwork)
                return new IPEndPoint(candidate, port);
        throw new BenchException($"'{host}' has no IPv4 address.");
    }
}
