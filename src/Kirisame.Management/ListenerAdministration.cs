namespace Kirisame.Management;

/// MQTT listeners changed while the process runs (issue 14, item 5; ADR 0019): what the hosting process can do
/// with its transport, which the management project does not reference.
public interface IListenerAdmin
{
    public Task<ListenerResult> AddAsync(ListenerRequest request);

    /// Stops a listener added at run time: new connections are refused, open ones go on.
    public Task<ListenerResult> StopAsync(string name);

    /// New certificate/key (and client CA) files for a TLS listener, from the next handshake on.
    public Task<ListenerResult> ChangeTlsAsync(string name, TlsFilesRequest request);
}

public enum ListenerResultKind
{
    Done,
    Invalid,
    NotFound,
    Conflict,
}

/// The outcome of a listener change; <paramref name="Detail"/> says what to fix when it is not Done.
public sealed record ListenerResult(ListenerResultKind Kind, string Detail);

/// POST /api/v1/listeners: the keys of a configured listener (Listeners:NAME), plus <paramref name="SecurityOf"/>,
/// the listener whose authentication and ACL its clients get (default: the first configured one).
public sealed record ListenerRequest(string? Name, string? Protocol, int? Port, string? BindAddress, string? Certificate, string? PrivateKey,
    string? CertificatePassword, string? ClientCertificates, string? ClientCaFile, string? CertificateIdentity, int? MaxConnections, string? SecurityOf);

/// PUT /api/v1/listeners/{name}/tls.
public sealed record TlsFilesRequest(string? Certificate, string? PrivateKey, string? CertificatePassword, string? ClientCaFile);
