using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Storage;

/// A [Fact] that mounts a tmpfs: reported as skipped, with the reason, where that is impossible (not root,
/// no mount permission in a container) — unless <see cref="Tmpfs.RequireVariable"/> is set, when it runs and fails.
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (!Tmpfs.Required && Tmpfs.WhyUnavailable is { } reason)
            Skip = reason;
    }
}
