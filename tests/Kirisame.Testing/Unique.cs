namespace Kirisame.Testing;

/// Names no other test (or earlier run against the same broker) uses.
public static class Unique
{
    public static string Topic(string name) => $"kirisame-test/{name}/{Guid.NewGuid():N}";

    public static string ClientId(string name) => $"{name}-{Guid.NewGuid():N}";
}
