using System.Net.Sockets;
using System.Security.Cryptography;
using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Kirisame.Transport.Tls;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Live;

/// What a listener change came to: done, or why not (nothing changed then).
public enum ListenerChangeOutcome
{
    Done,
    Invalid,
    NotFound,
    Conflict,
}

public sealed record ListenerChange(ListenerChangeOutcome Outcome, IReadOnlyList<string> Errors)
{
    public static readonly ListenerChange Done = new(ListenerChangeOutcome.Done, []);

    internal static ListenerChange Fail(ListenerChangeOutcome outcome, params string[] errors) => new(outcome, errors);
}

/// MQTT listeners added, stopped and re-keyed while the server runs (issue 14, item 5; ADR 0019). Added ones
/// are TCP or TLS (not WebSockets: those need Kestrel's HTTP pipeline), validated as configured listeners
/// are, and last until the server stops: they are not written to the configuration file. Only those can be
/// stopped; any TLS listener, configured or added, can be given other certificate files.
public sealed class LiveListeners : IAsyncDisposable
{
    private readonly MqttListeners _bound;
    private readonly ConnectionLimits _limits;
    private readonly MqttConnectionHandler _handler;
    private readonly TransportOptions _transport;
    private readonly TimeSpan _handshakeTimeout;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Dictionary<MqttListener, LiveListener> _live = [];
    private readonly SemaphoreSlim _changes = new(1, 1);

    internal LiveListeners(MqttListeners bound, ConnectionLimits limits, MqttConnectionHandler handler, TransportOptions transport,
        MqttBroker broker, ILoggerFactory loggers)
    {
        _bound = bound;
        _limits = limits;
        _handler = handler;
        _transport = transport;
        _handshakeTimeout = broker.Options.ConnectTimeout;
        _loggers = loggers;
        _logger = loggers.CreateLogger("Kirisame.Transport.Live");
    }

    /// Binds a new listener. <paramref name="securityListener"/> names the listener whose authentication and ACL
    /// its clients get (the caller has checked it exists and suits the address).
    public async Task<ListenerChange> AddAsync(ListenerOptions options, string securityListener)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Protocol is not (ListenerProtocol.Mqtt or ListenerProtocol.Mqtts))
            return ListenerChange.Fail(ListenerChangeOutcome.Invalid, $"protocol must be mqtt or mqtts for a listener added at run time (was {options.Protocol})");
        var errors = options.Validate().ToArray();
        if (errors.Length > 0)
            return ListenerChange.Fail(ListenerChangeOutcome.Invalid, errors);
        await _changes.WaitAsync();
        try
        {
            if (_bound.Find(options.Name) is not null)
                return ListenerChange.Fail(ListenerChangeOutcome.Conflict, $"a listener named '{options.Name}' exists");
            if (!TryLoadTls(options, out var tls, out var tlsError))
                return ListenerChange.Fail(ListenerChangeOutcome.Invalid, tlsError!);
            var listener = new MqttListener(options, tls);
            LiveListener live;
            try
            {
                live = new LiveListener(listener, _limits, _handler, _handshakeTimeout, securityListener, _transport.Backlog, _logger);
            }
            catch (SocketException ex)
            {
                return ListenerChange.Fail(ListenerChangeOutcome.Conflict, $"cannot listen on {options.EndPoint}: {ex.Message}");
            }

            _bound.TryAdd(listener, () => live.EndPoint); // the name was checked under the same lock
            _live[listener] = live;
            _logger.LogInformation("Listener {Listener} added: {Protocol}://{EndPoint} (until the server stops; not in the configuration file)",
                options.Name, options.Protocol.ToString().ToLowerInvariant(), live.EndPoint);
            return ListenerChange.Done;
        }
        finally
        {
            _changes.Release();
        }
    }

    /// Stops a listener added at run time: its port is closed at once; its connections are left to end.
    public async Task<ListenerChange> StopAsync(string name)
    {
        await _changes.WaitAsync();
        try
        {
            if (_bound.Find(name) is not { } found)
                return ListenerChange.Fail(ListenerChangeOutcome.NotFound, $"no listener named '{name}'");
            if (!found.Live)
                return ListenerChange.Fail(ListenerChangeOutcome.Conflict, $"listener '{found.Listener.Name}' is in the configuration: change it there and restart");
            var live = _live[found.Listener];
            _live.Remove(found.Listener);
            _bound.Remove(found.Listener);
            await live.DisposeAsync();
            _logger.LogInformation("Listener {Listener} stopped; its {Open} open connection(s) go on until they end", found.Listener.Name, Volatile.Read(ref found.Listener.Open));
            return ListenerChange.Done;
        }
        finally
        {
            _changes.Release();
        }
    }

    /// Gives a TLS listener other certificate, key or client CA files: loaded now (a file that does not load
    /// changes nothing), used from the next handshake on. Established connections keep their session keys.
    public async Task<ListenerChange> ChangeTlsAsync(string name, string certificate, string? privateKey, string? password, string? clientCaFile)
    {
        await _changes.WaitAsync();
        try
        {
            if (_bound.Find(name) is not { } found)
                return ListenerChange.Fail(ListenerChangeOutcome.NotFound, $"no listener named '{name}'");
            var listener = found.Listener;
            if (!listener.Options.IsTls)
                return ListenerChange.Fail(ListenerChangeOutcome.Conflict, $"listener '{listener.Name}' does not use TLS");
            var options = listener.Options.Copy();
            options.Certificate = certificate;
            options.PrivateKey = privateKey;
            options.CertificatePassword = password;
            options.ClientCaFile = clientCaFile ?? options.ClientCaFile;
            var errors = options.Validate().ToArray();
            if (errors.Length > 0)
                return ListenerChange.Fail(ListenerChangeOutcome.Invalid, errors);
            if (!TryLoadTls(options, out var tls, out var tlsError))
                return ListenerChange.Fail(ListenerChangeOutcome.Invalid, tlsError!);
            listener.ReplaceTls(options, tls!);
            _logger.LogInformation("Listener {Listener}: TLS now from {Certificate}; new handshakes use it", listener.Name, certificate);
            return ListenerChange.Done;
        }
        finally
        {
            _changes.Release();
        }
    }

    private bool TryLoadTls(ListenerOptions options, out TlsSettings? tls, out string? error)
    {
        tls = null;
        error = null;
        if (!options.IsTls)
            return true;
        try
        {
            tls = new TlsSettings(options, _loggers.CreateLogger("Kirisame.Transport.Tls"));
            return true;
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error = $"{options.Certificate}: cannot load the certificate: {ex.Message}";
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var live in _live.Values)
            await live.DisposeAsync();
        _live.Clear();
    }
}
