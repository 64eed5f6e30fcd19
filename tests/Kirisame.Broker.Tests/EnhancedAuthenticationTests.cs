using System.Security.Cryptography;
using System.Text;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

/// SCRAM-SHA-256 over AUTH (MQTT 5 section 4.12), with the client side computed here from RFC 5802.
public sealed class EnhancedAuthenticationTests
{
    private const string Method = "SCRAM-SHA-256";

    private static MqttBroker NewBroker()
    {
        var users = new InMemoryScramCredentials();
        users.Add("alice", "correct horse");
        return new MqttBroker(new BrokerOptions { SysInterval = 0 }, authenticationMethods: [new ScramSha256Method(users)]);
    }

    private sealed class ScramClient(string user, string password)
    {
        private readonly string _clientNonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12));
        private string _clientFirstBare = "";
        private byte[] _authMessage = [];
        private byte[] _saltedPassword = [];

        public byte[] First()
        {
            _clientFirstBare = $"n={user},r={_clientNonce}";
            return Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
        }

        public byte[] Final(byte[] serverFirstBytes)
        {
            var serverFirst = Encoding.UTF8.GetString(serverFirstBytes);
            var fields = serverFirst.Split(',').ToDictionary(f => f[0], f => f[2..]);
            Assert.StartsWith(_clientNonce, fields['r']);
            _saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(fields['s']),
                int.Parse(fields['i'], System.Globalization.CultureInfo.InvariantCulture), HashAlgorithmName.SHA256, 32);
            var withoutProof = $"c=biws,r={fields['r']}";
            _authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{serverFirst},{withoutProof}");
            var clientKey = HMACSHA256.HashData(_saltedPassword, "Client Key"u8);
            var signature = HMACSHA256.HashData(SHA256.HashData(clientKey), _authMessage);
            var proof = new byte[32];
            for (var i = 0; i < 32; i++)
                proof[i] = (byte)(clientKey[i] ^ signature[i]);
            return Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}");
        }

        public bool VerifyServer(byte[] serverFinal)
        {
            var expected = HMACSHA256.HashData(HMACSHA256.HashData(_saltedPassword, "Server Key"u8), _authMessage);
            return Encoding.UTF8.GetString(serverFinal) == "v=" + Convert.ToBase64String(expected);
        }
    }

    private static async Task<ConnAckPacket> ScramConnectAsync(TestClient client, string user, string password, ScramClient? scram = null)
    {
        scram ??= new ScramClient(user, password);
        await client.SendAsync(new ConnectPacket
        {
            ProtocolVersion = ProtocolVersion.V500,
            ClientId = "scram-" + user,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = scram.First() },
        });
        var challenge = await client.ExpectAsync<AuthPacket>();
        Assert.Equal(ReasonCode.ContinueAuthentication, challenge.ReasonCode);
        Assert.Equal(Method, challenge.Properties?.AuthenticationMethod);
        await client.SendAsync(new AuthPacket
        {
            ReasonCode = ReasonCode.ContinueAuthentication,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = scram.Final(challenge.Properties!.AuthenticationData!) },
        });
        return await client.ExpectAsync<ConnAckPacket>();
    }

    // [MQTT-4.12.0-2] the server's AUTH carries 0x18; [MQTT-4.12.0-5] AUTH and CONNACK name the method of the CONNECT.
    [Fact]
    public async Task Scram_RightPassword_ConnectsAndServerProvesItKnowsTheKey()
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var scram = new ScramClient("alice", "correct horse");
        var ack = await ScramConnectAsync(client, "alice", "correct horse", scram);
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);
        Assert.Equal(Method, ack.Properties?.AuthenticationMethod);
        Assert.True(scram.VerifyServer(ack.Properties!.AuthenticationData!));
    }

    // [MQTT-4.12.0-4] the server rejects the authentication with a CONNACK of 0x80 or more and closes.
    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("mallory", "correct horse")]
    public async Task Scram_WrongPasswordOrUnknownUser_IsRefusedWith0x86(string user, string password)
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await ScramConnectAsync(client, user, password);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, ack.ReasonCode);
        Assert.False(ack.SessionPresent);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task UnknownAuthenticationMethod_IsRefusedWith0x8C() // [MQTT-4.12.0-1]
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("x", properties: new MqttProperties { AuthenticationMethod = "KERBEROS-9" });
        Assert.Equal(ReasonCode.BadAuthenticationMethod, ack.ReasonCode);
        await client.ExpectClosedAsync();
    }

    // [MQTT-4.12.0-5] every AUTH of the re-authentication names the method of the CONNECT.
    [Fact]
    public async Task ReAuthentication_OnLiveConnection_SucceedsWithAuth0x00()
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await ScramConnectAsync(client, "alice", "correct horse")).ReasonCode);

        var again = new ScramClient("alice", "correct horse");
        await client.SendAsync(new AuthPacket
        {
            ReasonCode = ReasonCode.ReAuthenticate,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = again.First() },
        });
        var challenge = await client.ExpectAsync<AuthPacket>();
        Assert.Equal(ReasonCode.ContinueAuthentication, challenge.ReasonCode);
        Assert.Equal(Method, challenge.Properties?.AuthenticationMethod);
        await client.SendAsync(new AuthPacket
        {
            ReasonCode = ReasonCode.ContinueAuthentication,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = again.Final(challenge.Properties!.AuthenticationData!) },
        });
        var done = await client.ExpectAsync<AuthPacket>();
        Assert.Equal(ReasonCode.Success, done.ReasonCode);
        Assert.Equal(Method, done.Properties?.AuthenticationMethod);
        Assert.True(again.VerifyServer(done.Properties!.AuthenticationData!));
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task ReAuthentication_WithWrongPassword_Disconnects()
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        await ScramConnectAsync(client, "alice", "correct horse");
        var bad = new ScramClient("alice", "nope");
        await client.SendAsync(new AuthPacket
        {
            ReasonCode = ReasonCode.ReAuthenticate,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = bad.First() },
        });
        var challenge = await client.ExpectAsync<AuthPacket>();
        await client.SendAsync(new AuthPacket
        {
            ReasonCode = ReasonCode.ContinueAuthentication,
            Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = bad.Final(challenge.Properties!.AuthenticationData!) },
        });
        Assert.Equal(ReasonCode.NotAuthorized, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode); // [MQTT-4.12.1-2]
        await client.ExpectClosedAsync();
    }

    // The client broke 4.12.0-7; the server's side: [MQTT-4.12.0-6] no Authentication Method in CONNACK and no AUTH
    // when the CONNECT had none.
    [Fact]
    public async Task Auth_WithoutMethodInConnect_IsProtocolError()
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("plain");
        Assert.Null(ack.Properties?.AuthenticationMethod);
        Assert.Null(ack.Properties?.AuthenticationData);
        await client.ExpectNothingAsync();
        await client.SendAsync(new AuthPacket { ReasonCode = ReasonCode.ReAuthenticate, Properties = new MqttProperties { AuthenticationMethod = Method } });
        Assert.Equal(ReasonCode.ProtocolError, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
    }

    // Issue 4: SCRAM "usable with a user from the password store". One $scram-sha256$ entry serves SCRAM and
    // a plain user name/password CONNECT; entries added to the file later are picked up like any edit.
    [Fact]
    public async Task Scram_WithAUserFromThePasswordFile_AndPlainLoginWithTheSameEntry()
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-scram-").FullName;
        try
        {
            var path = Path.Combine(directory, "passwd");
            PasswordFile.SetEntry(path, "alice", PasswordHash.CreateScramSha256("correct horse"u8, 1000));
            PasswordFile.SetPassword(path, "bob", "battery staple"u8, 1000); // $7$: plain logins only
            var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
            var passwords = WatchedFile.Load(path, PasswordFile.Parse, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, time);
            await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 },
                authenticator: new FileAuthenticator(passwords, allowAnonymous: false, defaultUser: null),
                authenticationMethods: [new ScramSha256Method(new PasswordFileScramCredentials(passwords))]);

            await using (var scram = new TestClient(broker, ProtocolVersion.V500, "scram"))
            {
                var client = new ScramClient("alice", "correct horse");
                var ack = await ScramConnectAsync(scram, "alice", "correct horse", client);
                Assert.Equal(ReasonCode.Success, ack.ReasonCode);
                Assert.True(client.VerifyServer(ack.Properties!.AuthenticationData!));
            }

            foreach (var version in new[] { ProtocolVersion.V311, ProtocolVersion.V500 })
            {
                await using var plain = new TestClient(broker, version, "plain");
                Assert.Equal(ReasonCode.Success, (await plain.ConnectAsync("plain", userName: "alice", password: "correct horse"u8.ToArray())).ReasonCode);
                await using var wrong = new TestClient(broker, version, "wrong");
                var refused = await wrong.ConnectAsync("wrong", userName: "alice", password: "correct"u8.ToArray());
                Assert.Equal(ReasonCode.BadUserNameOrPassword, refused.ReasonCode);
            }

            await using (var bobScram = new TestClient(broker, ProtocolVersion.V500, "bob"))
                Assert.Equal(ReasonCode.BadUserNameOrPassword, (await ScramConnectAsync(bobScram, "bob", "battery staple")).ReasonCode);

            // bob gets a SCRAM entry: after the file's check interval SCRAM admits him.
            PasswordFile.SetEntry(path, "bob", PasswordHash.CreateScramSha256("battery staple"u8, 1000));
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // a different stamp even within the clock's resolution
            time.Advance(WatchedFile.CheckInterval);
            await using (var bobScram = new TestClient(broker, ProtocolVersion.V500, "bob2"))
                Assert.Equal(ReasonCode.Success, (await ScramConnectAsync(bobScram, "bob", "battery staple")).ReasonCode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // Failed SCRAM exchanges count towards the failed-login ban, in one table with plain logins.
    [Fact]
    public async Task Scram_Failures_CountTowardsTheBan_SharedWithPlainLogins()
    {
        var users = new InMemoryScramCredentials();
        users.Add("alice", "correct horse");
        var options = new SecurityOptions { FailedLoginDelay = TimeSpan.Zero, MaxFailedLogins = 3, BanDuration = TimeSpan.FromMinutes(1) };
        var guard = new FailedLoginGuard(new FileAuthenticator(null, allowAnonymous: false, defaultUser: null), options, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, authenticator: guard,
            authenticationMethods: [guard.Guard(new ScramSha256Method(users))]);
        static ConnectionInfo From(string address) =>
            new("c-" + Guid.NewGuid().ToString("N")[..6], new System.Net.IPEndPoint(System.Net.IPAddress.Parse(address), 5000), null);

        for (var i = 0; i < 2; i++)
        {
            await using var guess = new TestClient(broker, ProtocolVersion.V500, info: From("192.0.2.1"));
            Assert.Equal(ReasonCode.BadUserNameOrPassword, (await ScramConnectAsync(guess, "alice", "guess" + i)).ReasonCode);
        }

        await using (var plain = new TestClient(broker, ProtocolVersion.V500, info: From("192.0.2.1")))
            Assert.Equal(ReasonCode.NotAuthorized, (await plain.ConnectAsync("plain", userName: "alice", password: "guess"u8.ToArray())).ReasonCode);

        // Three failures: the right password is refused from that address at the first step (no challenge)...
        await using (var banned = new TestClient(broker, ProtocolVersion.V500, info: From("192.0.2.1")))
        {
            await banned.SendAsync(new ConnectPacket
            {
                ProtocolVersion = ProtocolVersion.V500,
                ClientId = "scram-alice",
                Properties = new MqttProperties { AuthenticationMethod = Method, AuthenticationData = new ScramClient("alice", "correct horse").First() },
            });
            Assert.Equal(ReasonCode.Banned, (await banned.ExpectAsync<ConnAckPacket>()).ReasonCode);
            await banned.ExpectClosedAsync();
        }

        // ...and by plain password too, while another address logs in.
        await using (var plain = new TestClient(broker, ProtocolVersion.V500, info: From("192.0.2.1")))
            Assert.Equal(ReasonCode.Banned, (await plain.ConnectAsync("plain")).ReasonCode);
        await using (var bystander = new TestClient(broker, ProtocolVersion.V500, info: From("192.0.2.2")))
            Assert.Equal(ReasonCode.Success, (await ScramConnectAsync(bystander, "alice", "correct horse")).ReasonCode);
    }
}
