namespace Kirisame.Broker.Security;

/// Authorizes against an <see cref="AclFile"/>, re-read when it changes.
public sealed class AclAuthorizer(WatchedFile<AclFile> acl) : IAuthorizer
{
    public bool CanPublish(string clientId, string? userName, string topic) => acl.Current.CanPublish(clientId, userName, topic);

    public bool CanSubscribe(string clientId, string? userName, string filter) => acl.Current.CanSubscribe(clientId, userName, filter);
}
