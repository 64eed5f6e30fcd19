using Kirisame.Broker.Security;
using Kirisame.Protocol;

namespace Kirisame.Broker.Tests.Security;

public sealed class AuthenticationChainTests
{
    private sealed class Fixed(string name, SourceVerdict verdict) : IAuthenticationSource
    {
        public int Calls { get; private set; }

        public string Name => name;

        public ValueTask<SourceVerdict> DecideAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            Calls++;
            return ValueTask.FromResult(verdict);
        }
    }

    private static ConnectContext Context() => new("c", "u", "p"u8.ToArray(), null, "default", ProtocolVersion.V500);

    [Fact]
    public async Task Ignore_AsksTheNextSource_AndAllowStopsTheChain()
    {
        var first = new Fixed("a", SourceVerdict.Ignore(ReasonCode.BadUserNameOrPassword, "unknown_user"));
        var second = new Fixed("b", SourceVerdict.Allow());
        var third = new Fixed("c", SourceVerdict.Deny(ReasonCode.NotAuthorized, "x"));
        Assert.Equal(ReasonCode.Success, await new AuthenticationChain([first, second, third]).AuthenticateAsync(Context(), default));
        Assert.Equal((1, 1, 0), (first.Calls, second.Calls, third.Calls));
    }

    [Fact]
    public async Task Deny_StopsTheChain_WithItsReasonAndCause()
    {
        var deny = new Fixed("jwt", SourceVerdict.Deny(ReasonCode.BadUserNameOrPassword, "expired", "the token has expired"));
        var later = new Fixed("http", SourceVerdict.Allow());
        var context = Context();
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await new AuthenticationChain([deny, later]).AuthenticateAsync(context, default));
        Assert.Equal(0, later.Calls);
        Assert.Equal("jwt: the token has expired", context.RefusalReason);
    }

    [Fact]
    public async Task AllIgnoring_RefusesWithTheFirstSourcesReason()
    {
        var file = new Fixed("file", SourceVerdict.Ignore(ReasonCode.BadUserNameOrPassword, "unknown_user"));
        var jwt = new Fixed("jwt", SourceVerdict.Ignore(ReasonCode.NotAuthorized, "not_a_token"));
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await new AuthenticationChain([file, jwt]).AuthenticateAsync(Context(), default));
        Assert.Equal(ReasonCode.NotAuthorized, await new AuthenticationChain([]).AuthenticateAsync(Context(), default));
    }

    [Fact]
    public Task FileSource_LeavesUnknownUsersToTheNextSource_ButRefusesAWrongPassword() => WithAliceAsync(async file =>
    {
        var unknown = await file.DecideAsync(new ConnectContext("c", "bob", "x"u8.ToArray(), null, "default", ProtocolVersion.V500), default);
        var wrong = await file.DecideAsync(new ConnectContext("c", "alice", "x"u8.ToArray(), null, "default", ProtocolVersion.V500), default);
        var right = await file.DecideAsync(new ConnectContext("c", "alice", "right"u8.ToArray(), null, "default", ProtocolVersion.V500), default);
        Assert.Equal(AuthenticationDecision.Ignore, unknown.Decision);
        Assert.Equal((AuthenticationDecision.Deny, ReasonCode.BadUserNameOrPassword), (wrong.Decision, wrong.Reason));
        Assert.Equal(AuthenticationDecision.Allow, right.Decision);
    });

    [Fact]
    public Task FileAuthenticatorAlone_RefusesWithTheSameCauses_AsTheFileSource() => WithAliceAsync(async file =>
    {
        (string? User, string Password, ReasonCode Reason, string? Cause)[] cases =
        [
            ("alice", "right", ReasonCode.Success, null),
            ("alice", "x", ReasonCode.BadUserNameOrPassword, "file: wrong password"),
            ("bob", "x", ReasonCode.BadUserNameOrPassword, "file: user not in the password file"),
            (null, "", ReasonCode.NotAuthorized, "file: no user name and anonymous clients are refused"),
        ];
        foreach (var (user, password, reason, cause) in cases)
        {
            var context = new ConnectContext("c", user, System.Text.Encoding.UTF8.GetBytes(password), null, "default", ProtocolVersion.V500);
            Assert.Equal(reason, await file.AuthenticateAsync(context, default));
            Assert.Equal(cause, context.RefusalReason);
        }

        // Without a password file, a user name is not checked: the anonymous switch decides, with its cause.
        var open = new FileAuthenticator(null, allowAnonymous: true, defaultUser: null);
        var closed = new FileAuthenticator(null, allowAnonymous: false, defaultUser: null);
        Assert.Equal(ReasonCode.Success, await open.AuthenticateAsync(Context(), default));
        var refused = Context();
        Assert.Equal(ReasonCode.NotAuthorized, await closed.AuthenticateAsync(refused, default));
        Assert.Equal("file: no password file, and anonymous clients are refused", refused.RefusalReason);
    });

    /// A file authenticator reading a password file with alice (password "right"), anonymous clients refused.
    private static async Task WithAliceAsync(Func<FileAuthenticator, Task> test)
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, $"alice:{PasswordHash.Create("right"u8, 1000)}\n");
            await test(new FileAuthenticator(WatchedFile.Load(path, PasswordFile.Parse, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance), allowAnonymous: false, defaultUser: null));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
