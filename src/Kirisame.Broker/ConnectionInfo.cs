using System.Net;

namespace Kirisame.Broker;

/// What the broker knows of a connection besides its bytes. Transports fill it in.
public sealed record ConnectionInfo(string ConnectionId, EndPoint? RemoteEndPoint, EndPoint? LocalEndPoint, string Listener = "tcp");
