using System.Collections.Concurrent;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

public sealed class ConnectTests
{
    [Theory]
    [InlineData(ProtocolVersion.V310)] // "MQIsdp", level 3
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Connect_IsAccepted_ForEachProtocolVersion(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, version);
        var ack = await client.ConnectAsync("client");
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);
        Assert.False(ack.SessionPresent);
        if (version != ProtocolVersion.V500)
            Assert.Equal(ConnectReturnCode.Accepted, ack.ReturnCode);
        await client.ExpectNothingAsync();
    }

    // [MQTT-3.1.3-6] a unique id is assigned, [MQTT-3.1.3-7] and returned in CONNACK,
    // [MQTT-3.2.2-16] as Assigned Client Identifier, unused by any other session.
    [Fact]
    public async Task EmptyClientId_WithCleanStart_GetsAnAssignedClientIdentifier_V5()
    {
        await using var broker = TestBroker.Create();
        await using var first = new TestClient(broker, ProtocolVersion.V500);
        await using var second = new TestClient(broker, ProtocolVersion.V500);
        var ack1 = await first.ConnectAsync("");
        var ack2 = await second.ConnectAsync("");
        Assert.Equal(ReasonCode.Success, ack1.ReasonCode);
        var id1 = ack1.Properties?.AssignedClientIdentifier;
        var id2 = ack2.Properties?.AssignedClientIdentifier;
        Assert.False(string.IsNullOrEmpty(id1));
        Assert.False(string.IsNullOrEmpty(id2));
        Assert.NotEqual(id1, id2);
        await first.ExpectNothingAsync();
    }

    [Fact]
    public async Task EmptyClientId_WithCleanSession_IsAcceptedWithUniqueIds_V311() // [MQTT-3.1.3-6]
    {
        await using var broker = TestBroker.Create();
        await using var first = new TestClient(broker, ProtocolVersion.V311);
        await using var second = new TestClient(broker, ProtocolVersion.V311);
        Assert.Equal(ConnectReturnCode.Accepted, (await first.ConnectAsync("")).ReturnCode);
        Assert.Equal(ConnectReturnCode.Accepted, (await second.ConnectAsync("")).ReturnCode);

        // Two different assigned ids: neither connection took the other over, and both work.
        await first.SubscribeAsync("t");
        await second.PublishAndSettleAsync("t", "hello");
        Assert.Equal("hello", Text.Of((await first.ExpectPublishAsync()).Payload));
        await first.ExpectNothingAsync();
        Assert.Equal(2, broker.SessionCount);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)] // 3.1.1 [MQTT-3.1.3-8]
    [InlineData(ProtocolVersion.V310)] // 3.1 requires 1 to 23 characters
    public async Task EmptyClientId_WithoutCleanSession_IsRejectedWith0x02_AndClosed(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, version);
        var ack = await client.ConnectAsync("", cleanStart: version == ProtocolVersion.V310);
        Assert.Equal(ConnectReturnCode.IdentifierRejected, ack.ReturnCode);
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task UserNameAndPassword_ReachTheAuthenticator(ProtocolVersion version)
    {
        var authenticator = new RecordingAuthenticator(ReasonCode.Success);
        await using var broker = TestBroker.Create(authenticator: authenticator);
        await using var client = new TestClient(broker, version);
        var ack = await client.ConnectAsync("who", userName: "alice", password: "s3cret"u8.ToArray());
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);

        var context = Assert.Single(authenticator.Seen);
        Assert.Equal("who", context.ClientId);
        Assert.Equal("alice", context.UserName);
        Assert.NotNull(context.Password);
        Assert.Equal("s3cret", Text.Of(context.Password.Value));
        Assert.Equal(version, context.ProtocolVersion);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311, ReasonCode.NotAuthorized, ConnectReturnCode.NotAuthorized)]
    [InlineData(ProtocolVersion.V311, ReasonCode.BadUserNameOrPassword, ConnectReturnCode.BadUserNameOrPassword)]
    [InlineData(ProtocolVersion.V310, ReasonCode.NotAuthorized, ConnectReturnCode.NotAuthorized)]
    public async Task RefusedByTheAuthenticator_GetsTheV3ReturnCode_AndIsClosed(ProtocolVersion version, ReasonCode verdict, ConnectReturnCode expected)
    {
        await using var broker = TestBroker.Create(authenticator: new RecordingAuthenticator(verdict));
        await using var client = new TestClient(broker, version);
        var ack = await client.ConnectAsync("refused", userName: "mallory", password: "guess"u8.ToArray());
        Assert.Equal(expected, ack.ReturnCode);
        Assert.False(ack.SessionPresent); // 3.1.1 [MQTT-3.2.2-4]
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    // [MQTT-3.1.4-2] a failed authentication check closes the connection; [MQTT-3.2.2-6] Session Present 0
    // with a non-zero reason; [MQTT-3.2.2-7], [MQTT-4.13.2-1] a reason of 0x80 or more closes the connection.
    // [MQTT-3.1.3-8] 0x85: the server rejects the client id and closes.
    [Theory]
    [InlineData(ReasonCode.NotAuthorized)] // 0x87
    [InlineData(ReasonCode.BadUserNameOrPassword)] // 0x86
    [InlineData(ReasonCode.ClientIdentifierNotValid)] // 0x85
    public async Task RefusedByTheAuthenticator_GetsTheV5ReasonCode_AndIsClosed(ReasonCode verdict)
    {
        await using var broker = TestBroker.Create(authenticator: new RecordingAuthenticator(verdict));
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("refused", userName: "mallory", password: "guess"u8.ToArray());
        Assert.Equal(verdict, ack.ReasonCode);
        Assert.False(ack.SessionPresent);
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    // [MQTT-3.2.2-22] without a Server Keep Alive the client's value is used.
    [Theory]
    [InlineData(ProtocolVersion.V311)] // 3.1.1 [MQTT-3.1.2-24]
    [InlineData(ProtocolVersion.V500)] // [MQTT-3.1.2-22], DISCONNECT 0x8D
    public async Task KeepAlive_ClosesTheConnectionAfterOneAndAHalfPeriodsWithoutPackets_NotBefore(ProtocolVersion version)
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await using var client = new TestClient(broker, version);
        await client.ConnectAsync("idle", keepAlive: 10);

        time.Advance(TimeSpan.FromSeconds(15));
        broker.Housekeep();
        await client.ExpectNothingAsync(); // exactly 1.5 × keep alive: still open. The PINGREQ counts as activity.

        time.Advance(TimeSpan.FromSeconds(15));
        broker.Housekeep();
        await client.ExpectNothingAsync(); // 30 s after connecting, but 15 s after the PINGREQ: kept alive.

        time.Advance(TimeSpan.FromSeconds(16));
        broker.Housekeep();
        if (version == ProtocolVersion.V500)
            Assert.Equal(ReasonCode.KeepAliveTimeout, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task KeepAliveZero_IsNeverEnforced()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await using var client = new TestClient(broker, ProtocolVersion.V311);
        await client.ConnectAsync("forever", keepAlive: 0);
        time.Advance(TimeSpan.FromDays(3));
        broker.Housekeep();
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task ServerKeepAlive_IsReportedInConnAck_AndEnforcedInsteadOfTheClients() // section 3.2.2.3.14, [MQTT-3.1.2-22]
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.ServerKeepAlive = 4, time);
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("told", keepAlive: 60);
        Assert.Equal((ushort)4, ack.Properties?.ServerKeepAlive);

        time.Advance(TimeSpan.FromSeconds(6));
        broker.Housekeep();
        await client.ExpectNothingAsync();

        time.Advance(TimeSpan.FromSeconds(7)); // > 1.5 × 4 s, far below the 60 s the client asked for
        broker.Housekeep();
        Assert.Equal(ReasonCode.KeepAliveTimeout, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task ConnectionThatSendsNoConnect_IsClosedAfterConnectTimeout_ByTheHousekeepingTimer()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.ConnectTimeout = TimeSpan.FromSeconds(10), time);
        broker.Start();
        await using var silent = new TestClient(broker, ProtocolVersion.V311);
        await using var late = new TestClient(broker, ProtocolVersion.V311);

        for (var i = 0; i < 9; i++)
            time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ReasonCode.Success, (await late.ConnectAsync("late")).ReasonCode); // within the timeout

        for (var i = 0; i < 2; i++)
            time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await silent.ReceiveAsync()); // closed, nothing sent
        await silent.ExpectClosedAsync();
        await late.ExpectNothingAsync();
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task SecondConnect_IsAProtocolError_AndClosesTheConnection(ProtocolVersion version) // [MQTT-3.1.0-2]
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, version);
        await client.ConnectAsync("twice");
        await client.SendAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "twice" });
        if (version == ProtocolVersion.V500)
            Assert.Equal(ReasonCode.ProtocolError, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        Assert.Null(await client.ReceiveAsync());
        await client.ExpectClosedAsync();
    }

    public static TheoryData<byte[]> NotConnect => new()
    {
        new byte[] { 0xC0, 0x00 }, // PINGREQ
        new byte[] { 0x30, 0x04, 0x00, 0x01, (byte)'t', (byte)'x' }, // PUBLISH
        new byte[] { 0xE0, 0x00 }, // DISCONNECT
    };

    [Theory]
    [MemberData(nameof(NotConnect))]
    public async Task FirstPacketOtherThanConnect_ClosesTheConnection(byte[] packet) // the client broke 3.1.0-1 (section 3.1.0)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, ProtocolVersion.V311);
        await client.SendRawAsync(packet);
        Assert.Null(await client.ReceiveAsync());
        await client.ExpectClosedAsync();
    }

    [Theory]
    [InlineData("MQTT", 3)]
    [InlineData("MQTT", 6)]
    [InlineData("MQIsdp", 4)]
    public async Task UnsupportedProtocolLevel_GetsReturnCode0x01_AndIsClosed(string name, byte level) // [MQTT-3.1.2-2] (level 6), 3.1.1 [MQTT-3.1.2-2]
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, ProtocolVersion.V311);
        await client.SendRawAsync(RawConnect(name, level));
        var ack = await client.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ConnectReturnCode.UnacceptableProtocolVersion, ack.ReturnCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task UnknownProtocolName_AtLevel5_GetsReasonCode0x84_AndIsClosed() // [MQTT-3.1.2-1]
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        await client.SendRawAsync(RawConnect("MQTX", 5));
        var ack = await client.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.UnsupportedProtocolVersion, ack.ReasonCode);
        await client.ExpectClosedAsync();
    }

    /// A CONNECT with the given protocol name and level, clean session, keep alive 60, client id "x";
    /// for level 5 an empty property block.
    private static byte[] RawConnect(string name, byte level)
    {
        var body = new List<byte> { 0, (byte)name.Length };
        body.AddRange(System.Text.Encoding.ASCII.GetBytes(name));
        body.AddRange([level, 0x02, 0x00, 0x3C]);
        if (level == 5)
            body.Add(0x00);
        body.AddRange([0x00, 0x01, (byte)'x']);
        return [0x10, (byte)body.Count, .. body];
    }

    private sealed class RecordingAuthenticator(ReasonCode verdict) : IAuthenticator
    {
        public ConcurrentQueue<ConnectContext> Seen { get; } = new();

        public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
        {
            Seen.Enqueue(context);
            return ValueTask.FromResult(verdict);
        }
    }
}
