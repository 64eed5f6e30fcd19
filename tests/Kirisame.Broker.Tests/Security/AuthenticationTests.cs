using System.Net;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Security;

public sealed class AuthenticationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-auth-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private WatchedFile<PasswordFile> Passwords(params (string User, string Password)[] users)
    {
        var path = Path.Combine(_directory, "passwd");
        foreach (var (user, password) in users)
            PasswordFile.SetPassword(path, user, System.Text.Encoding.UTF8.GetBytes(password), 1000);
        return WatchedFile.Load(path, PasswordFile.Parse, NullLogger.Instance);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311, "alice", "right", ReasonCode.Success)]
    [InlineData(ProtocolVersion.V311, "alice", "wrong", ReasonCode.BadUserNameOrPassword)]
    [InlineData(ProtocolVersion.V311, "mallory", "right", ReasonCode.BadUserNameOrPassword)]
    [InlineData(ProtocolVersion.V311, null, null, ReasonCode.NotAuthorized)]
    [InlineData(ProtocolVersion.V500, "alice", "right", ReasonCode.Success)]
    [InlineData(ProtocolVersion.V500, "alice", "wrong", ReasonCode.BadUserNameOrPassword)]
    [InlineData(ProtocolVersion.V500, null, null, ReasonCode.NotAuthorized)]
    public async Task PasswordFile_AdmitsTheRightPassword_AndRefusesTheRest(ProtocolVersion version, string? user, string? password, ReasonCode expected)
    {
        var authenticator = new FileAuthenticator(Passwords(("alice", "right")), allowAnonymous: false, defaultUser: null);
        await using var broker = TestBroker.Create(authenticator: authenticator);
        await using var client = new TestClient(broker, version);
        var ack = await client.ConnectAsync("c", userName: user, password: password is null ? null : System.Text.Encoding.UTF8.GetBytes(password));
        Assert.Equal(expected, ack.ReasonCode);
        if (version != ProtocolVersion.V500)
        {
            // v3: 0x04 bad user name or password, 0x05 not authorized.
            var code = expected switch
            {
                ReasonCode.Success => ConnectReturnCode.Accepted,
                ReasonCode.BadUserNameOrPassword => ConnectReturnCode.BadUserNameOrPassword,
                _ => ConnectReturnCode.NotAuthorized,
            };
            Assert.Equal(code, ack.ReturnCode);
        }

        if (expected != ReasonCode.Success)
            await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task SecondLogin_WithTheSamePassword_IsAdmitted_AndAChangedPasswordIsNot()
    {
        var authenticator = new FileAuthenticator(Passwords(("alice", "one")), allowAnonymous: false, defaultUser: null);
        var context = new ConnectContext("c", "alice", "one"u8.ToArray(), null, "tcp", ProtocolVersion.V311);
        Assert.Equal(ReasonCode.Success, await authenticator.AuthenticateAsync(context, default));
        Assert.Equal(ReasonCode.Success, await authenticator.AuthenticateAsync(context, default)); // the cached path
        Assert.Equal(ReasonCode.BadUserNameOrPassword,
            await authenticator.AuthenticateAsync(context with { Password = "two"u8.ToArray() }, default));
    }

    [Fact]
    public async Task DefaultUser_IsTheIdentityOfAnonymousClients_ForTheAcl()
    {
        var authenticator = new FileAuthenticator(null, allowAnonymous: true, defaultUser: "guest");
        var acl = AclFile.Parse("user guest\ntopic readwrite guests/#\n");
        await using var broker = TestBroker.Create(authenticator: authenticator, authorizer: new AclAuthorizerForTests(acl));
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await client.ConnectAsync("c")).ReasonCode);
        Assert.Equal((ReasonCode)0, (await client.SubscribeAsync("guests/room")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.NotAuthorized, (await client.SubscribeAsync("other")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.NotAuthorized, await client.PublishAndSettleAsync("other", "x", QualityOfService.AtLeastOnce));
    }

    [Fact]
    public async Task CertificateName_IsTheUserName_WithoutAPassword()
    {
        var authenticator = new FileAuthenticator(Passwords(("alice", "right")), allowAnonymous: false, defaultUser: null);
        var context = new ConnectContext("c", null, null, null, "tls", ProtocolVersion.V311) { CertificateName = "device-1" };
        Assert.Equal(ReasonCode.Success, await authenticator.AuthenticateAsync(context, default));
        Assert.Equal("device-1", context.AssignedUserName);
    }

    [Fact]
    public async Task RepeatedFailures_FromOneAddress_AreBanned_ThenForgiven()
    {
        var time = new FakeTimeProvider();
        var options = new SecurityOptions { FailedLoginDelay = TimeSpan.Zero, MaxFailedLogins = 3, BanDuration = TimeSpan.FromMinutes(1) };
        var guard = new FailedLoginGuard(new FileAuthenticator(Passwords(("alice", "right")), false, null), options, time, NullLogger.Instance);
        var attacker = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 5000);
        var bystander = new IPEndPoint(IPAddress.Parse("192.0.2.2"), 5000);
        ConnectContext Login(IPEndPoint from, string password) => new("c", "alice", System.Text.Encoding.UTF8.GetBytes(password), from, "tcp", ProtocolVersion.V500);

        for (var i = 0; i < 3; i++)
            Assert.Equal(ReasonCode.BadUserNameOrPassword, await guard.AuthenticateAsync(Login(attacker, "guess" + i), default));
        // Banned now: even the right password is refused from that address, but not from another one.
        Assert.Equal(ReasonCode.Banned, await guard.AuthenticateAsync(Login(attacker, "right"), default));
        Assert.Equal(ReasonCode.Success, await guard.AuthenticateAsync(Login(bystander, "right"), default));

        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(ReasonCode.Success, await guard.AuthenticateAsync(Login(attacker, "right"), default));
    }

    [Fact]
    public async Task FailedLogin_IsDelayed()
    {
        var time = new FakeTimeProvider();
        var options = new SecurityOptions { FailedLoginDelay = TimeSpan.FromSeconds(2), MaxFailedLogins = 0 };
        var guard = new FailedLoginGuard(new FileAuthenticator(null, false, null), options, time, NullLogger.Instance);
        var pending = guard.AuthenticateAsync(new ConnectContext("c", null, null, null, "tcp", ProtocolVersion.V311), default).AsTask();
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(ReasonCode.NotAuthorized, await pending);
    }

    [Fact]
    public async Task EachListener_HasItsOwnAuthenticationAndAcl_AndAnUnknownListenerIsRefused()
    {
        var authenticator = new ListenerAuthenticator(new Dictionary<string, IAuthenticator>
        {
            ["local"] = new FileAuthenticator(null, allowAnonymous: true, defaultUser: null),
            ["public"] = new FileAuthenticator(Passwords(("alice", "right")), allowAnonymous: false, defaultUser: null),
        });
        var authorizer = new ListenerAuthorizer(new Dictionary<string, IAuthorizer>
        {
            ["local"] = AllowAll.Instance,
            ["public"] = new AclAuthorizerForTests(AclFile.Parse("user alice\ntopic read sensors/#\n")),
        });
        await using var broker = TestBroker.Create(authenticator: authenticator, authorizer: authorizer);
        ConnectionInfo On(string listener) => new(listener + "-" + Guid.NewGuid().ToString("N")[..6], null, null, listener);

        await using (var local = new TestClient(broker, ProtocolVersion.V500, info: On("local")))
        {
            Assert.Equal(ReasonCode.Success, (await local.ConnectAsync("local")).ReasonCode);
            Assert.Equal(ReasonCode.NoMatchingSubscribers, await local.PublishAndSettleAsync("sensors/t", "x", QualityOfService.AtLeastOnce));
        }

        await using (var anonymous = new TestClient(broker, ProtocolVersion.V500, info: On("public")))
            Assert.Equal(ReasonCode.NotAuthorized, (await anonymous.ConnectAsync("anonymous")).ReasonCode);

        await using (var alice = new TestClient(broker, ProtocolVersion.V500, info: On("public")))
        {
            Assert.Equal(ReasonCode.Success, (await alice.ConnectAsync("alice", userName: "alice", password: "right"u8.ToArray())).ReasonCode);
            Assert.Equal((ReasonCode)1, (await alice.SubscribeAsync("sensors/#", QualityOfService.AtLeastOnce)).ReasonCodes[0]);
            Assert.Equal(ReasonCode.NotAuthorized, await alice.PublishAndSettleAsync("sensors/t", "x", QualityOfService.AtLeastOnce));
        }

        await using (var stray = new TestClient(broker, ProtocolVersion.V500, info: On("unknown")))
            Assert.Equal(ReasonCode.NotAuthorized, (await stray.ConnectAsync("stray")).ReasonCode);
        Assert.False(authorizer.ForListener("unknown").CanSubscribe("c", null, "#"));
    }

    private sealed class AclAuthorizerForTests(AclFile acl) : IAuthorizer
    {
        public bool CanPublish(string clientId, string? userName, string topic) => acl.CanPublish(clientId, userName, topic);

        public bool CanSubscribe(string clientId, string? userName, string filter) => acl.CanSubscribe(clientId, userName, filter);
    }
}
