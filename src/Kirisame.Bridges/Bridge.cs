using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Client;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.Bridges;

/// One bridge for the life of the server: connect to the first address that answers, run a <see cref="BridgeLink"/>
/// until it ends, wait (exponential back-off with jitter between RestartTimeoutBase and RestartTimeoutCap), again.
/// A bridge with a <see cref="BridgeOptions.Tenant"/> has its local side in that tenant's core, looked up before each
/// connection: a tenant removed and added again (a new core) gets the bridge's session again, and while the tenant does
/// not exist the bridge waits as for an unreachable remote.
internal sealed partial class Bridge(BridgeOptions options, MqttBroker server, BridgeStatus status, ILogger logger)
{
    private MqttBroker _local = null!; // the core of the local side: set by PrepareAsync before any use
    private InProcessClient? _notifier;

    public BridgeStatus Status => status;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        MqttBroker? prepared = null;
        var failures = 0;
        var bridgeFlag = options.TryPrivate && options.ProtocolVersion == ProtocolVersion.V311;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (LocalCore() is not { } core)
                {
                    LogNoTenant(logger, options.Name, options.Tenant!);
                }
                else
                {
                    if (!ReferenceEquals(core, prepared))
                        await PrepareAsync(prepared = core, cancellationToken);
                    (failures, bridgeFlag) = await TryAddressesAsync(failures, bridgeFlag, cancellationToken);
                }

                if (cancellationToken.IsCancellationRequested)
                    break;
                var delay = Backoff(failures++);
                LogRetry(logger, options.Name, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            if (_notifier is not null)
                await _notifier.DisposeAsync();
        }
    }

    /// The local side in <paramref name="core"/>: the notifier, and the session with its subscriptions.
    private async Task PrepareAsync(MqttBroker core, CancellationToken cancellationToken)
    {
        _local = core;
        if (_notifier is not null)
            await _notifier.DisposeAsync();
        _notifier = options.Notifications ? await ConnectNotifierAsync() : null;
        await PrepareLocalSessionAsync(cancellationToken);
        await NotifyAsync(_notifier, connected: false); // after the local session exists: from now on messages queue
    }

    /// The core the bridge's local side is in: the server's, or its tenant's (null while that tenant does not exist).
    private MqttBroker? LocalCore() => options.Tenant is not { } tenant ? server : server.Tenants?.Find(tenant);

    /// Connects to the first address that answers and runs the link until it ends; the failure count and whether the
    /// bridge flag is still tried, for the next round.
    private async Task<(int Failures, bool BridgeFlag)> TryAddressesAsync(int failures, bool bridgeFlag, CancellationToken cancellationToken)
    {
        foreach (var address in options.Addresses)
        {
            var (remote, flag) = await TryConnectAsync(address, bridgeFlag, cancellationToken);
            if (remote is null)
                continue;
            bridgeFlag = flag;
            failures = 0;
            status.ConnectedTo = address.ToString();
            Interlocked.Increment(ref status.Connects);
            LogConnected(logger, options.Name, address.ToString(), remote.ProtocolVersion == ProtocolVersion.V500 ? "5.0" : flag ? "3.1.1, bridge flag" : "3.1.1");
            await NotifyAsync(_notifier, connected: true);
            string why;
            await using (remote)
            {
                try
                {
                    why = await new BridgeLink(options, _local, remote, status, logger).RunAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is InProcessClientException or MqttClientException or InvalidOperationException)
                {
                    why = ex.Message;
                }
            }

            status.ConnectedTo = null;
            await NotifyAsync(_notifier, connected: false);
            LogLost(logger, options.Name, address.ToString(), why);
            break; // after a loss, the first address again
        }

        return (failures, bridgeFlag);
    }

    /// base·2ⁿ capped, then jittered down to no less than half (and never below base), so bridges restarted
    /// together do not retry in step.
    internal TimeSpan Backoff(int failures)
    {
        var ceiling = Math.Min(options.RestartTimeoutCap.TotalSeconds, options.RestartTimeoutBase.TotalSeconds * Math.Pow(2, Math.Min(failures, 30)));
        var jittered = ceiling * (0.5 + (0.5 * Random.Shared.NextDouble()));
        return TimeSpan.FromSeconds(Math.Max(options.RestartTimeoutBase.TotalSeconds, jittered));
    }

    /// The remote client, or null (logged). A 3.1.1 remote that refuses the bridge flag (return code 1, or closing
    /// the connection, as brokers that do not know it do) is tried again at once without it, as Mosquitto does.
    private async Task<(MqttClient? Client, bool BridgeFlag)> TryConnectAsync(MqttServerAddress address, bool bridgeFlag, CancellationToken cancellationToken)
    {
        try
        {
            return (await MqttClient.ConnectAsync(RemoteOptions(address, bridgeFlag), cancellationToken), bridgeFlag);
        }
        catch (MqttClientException ex) when (bridgeFlag && (ex is MqttConnectException { Reason: ReasonCode.UnsupportedProtocolVersion } || ex.Message.Contains("closed the connection", StringComparison.Ordinal)))
        {
            LogNoBridgeFlag(logger, options.Name, address.ToString());
            return await TryConnectAsync(address, bridgeFlag: false, cancellationToken);
        }
        catch (MqttClientException ex)
        {
            Interlocked.Increment(ref status.ConnectFailures);
            LogConnectFailed(logger, options.Name, address.ToString(), ex.Message);
            return (null, bridgeFlag);
        }
        catch (OperationCanceledException)
        {
            return (null, bridgeFlag);
        }
    }

    private MqttClientOptions RemoteOptions(MqttServerAddress address, bool bridgeFlag) => new()
    {
        Server = address,
        ProtocolVersion = options.ProtocolVersion,
        ClientId = options.ClientId,
        CleanStart = options.CleanStart,
        // 5.0: the remote keeps the session as 3.1.1 does without Clean Session, so what it queued for us survives.
        SessionExpiryInterval = options.CleanStart ? 0 : uint.MaxValue,
        KeepAlive = options.KeepAlive,
        UserName = options.UserName ?? address.UserName,
        Password = (options.Password ?? address.Password) is { } password ? System.Text.Encoding.UTF8.GetBytes(password) : null,
        Tls = options.Tls,
        BridgeFlag = bridgeFlag,
        AutoAcknowledge = false,
    };

    /// Makes the local session and its subscriptions exist before the remote is ever reached, so that messages
    /// for it queue from the start.
    private async Task PrepareLocalSessionAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var local = await InProcessClient.ConnectAsync(_local, BridgeLink.LocalOptions(options), cancellationToken);
            if (BridgeLink.LocalSubscriptions(options) is { Count: > 0 } subscriptions)
                await local.SubscribeAsync(subscriptions);
        }
        catch (InProcessClientException ex)
        {
            LogLocalSessionFailed(logger, options.Name, ex.Message);
        }
    }

    private async Task<InProcessClient?> ConnectNotifierAsync()
    {
        try
        {
            // The broker's own kind of publisher: the default notification topic is under $SYS.
            return await InProcessClient.ConnectAsync(_local, new InProcessClientOptions { ClientId = $"$bridge/{options.Name}/notifications", IsBroker = true, Trusted = true });
        }
        catch (InProcessClientException ex)
        {
            LogLocalSessionFailed(logger, options.Name, ex.Message);
            return null;
        }
    }

    /// "1" or "0", retained, on the local broker (Mosquitto's notification topic).
    private async Task NotifyAsync(InProcessClient? notifier, bool connected)
    {
        if (notifier is not { IsConnected: true })
            return;
        try
        {
            await notifier.PublishAsync(options.NotificationTopic, connected ? "1"u8.ToArray() : "0"u8.ToArray(), QualityOfService.AtLeastOnce, retain: true);
        }
        catch (InvalidOperationException)
        {
            // The broker is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: tenant '{Tenant}' does not exist (yet); the bridge waits for it")]
    private static partial void LogNoTenant(ILogger logger, string bridge, string tenant);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bridge {Bridge}: connected to {Address} (MQTT {Version})")]
    private static partial void LogConnected(ILogger logger, string bridge, string address, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: connection to {Address} lost: {Reason}")]
    private static partial void LogLost(ILogger logger, string bridge, string address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: cannot connect to {Address}: {Error}")]
    private static partial void LogConnectFailed(ILogger logger, string bridge, string address, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bridge {Bridge}: retrying in {Seconds:0.#} s")]
    private static partial void LogRetry(ILogger logger, string bridge, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bridge {Bridge}: {Address} refused the bridge flag (protocol level 0x84); connecting as a plain 3.1.1 client")]
    private static partial void LogNoBridgeFlag(ILogger logger, string bridge, string address);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bridge {Bridge}: the local session could not be opened: {Error}")]
    private static partial void LogLocalSessionFailed(ILogger logger, string bridge, string error);
}
