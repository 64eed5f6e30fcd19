using System.IO.Pipelines;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Client;

/// CONNECT out, CONNACK in.
internal static class Handshake
{
    /// Mosquitto's bridge flag: the top bit of the protocol level (0x80 | 4) says "I am a bridge".
    public const byte BridgeFlag = 0x80;

    public static ConnectPacket BuildConnect(MqttClientOptions options)
    {
        var v5 = options.ProtocolVersion == ProtocolVersion.V500;
        MqttProperties? properties = null;
        if (v5)
        {
            properties = options.ConnectProperties is { } given ? Copy(given) : new MqttProperties();
            if (options.SessionExpiryInterval != 0)
                properties.SessionExpiryInterval = options.SessionExpiryInterval;
            if (options.ReceiveMaximum != ushort.MaxValue)
                properties.ReceiveMaximum = options.ReceiveMaximum;
            properties.MaximumPacketSize = (uint)options.MaximumPacketSize;
        }

        var password = options.Password ?? (options.Server.Password is { } p ? Encoding.UTF8.GetBytes(p) : null);
        return new ConnectPacket
        {
            ProtocolVersion = options.ProtocolVersion,
            CleanStart = options.CleanStart,
            KeepAlive = (ushort)options.KeepAlive.TotalSeconds,
            ClientId = options.ClientId,
            Will = options.Will,
            UserName = options.UserName ?? options.Server.UserName,
            Password = password,
            Properties = properties,
        };
    }

    /// The CONNECT's bytes; with the bridge flag for 3.1.1 when asked.
    public static byte[] Encode(ConnectPacket connect, MqttClientOptions options)
    {
        var bytes = MqttEncoder.Encode(connect, connect.ProtocolVersion);
        if (options.BridgeFlag && connect.ProtocolVersion == ProtocolVersion.V311)
        {
            // Fixed header (type byte and Remaining Length), then "MQTT" as a string (6 bytes), then the level.
            var header = 1;
            while ((bytes[header] & 0x80) != 0)
                header++;
            bytes[header + 1 + 6] |= BridgeFlag;
        }

        return bytes;
    }

    public static async Task<ConnAckPacket> ReadConnAckAsync(PipeReader input, MqttFrameReader frames, MqttClientOptions options, CancellationToken cancellationToken)
    {
        var version = options.ProtocolVersion;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var status = frames.TryRead(buffer, out var raw, out var consumed, out var error);
            if (status == FrameStatus.Invalid)
                throw new MqttClientException($"{options.Server} sent a malformed packet instead of CONNACK ({error})");
            if (status == FrameStatus.NeedMoreData)
            {
                if (result.IsCompleted)
                    throw new MqttClientException($"{options.Server} closed the connection before CONNACK");
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            try
            {
                if (raw.Type != PacketType.ConnAck)
                    throw new MqttClientException($"{options.Server} sent {raw.Type} instead of CONNACK");
                // A server without 5.0 answers a 5.0 CONNECT with the 3.1.1 form: return code 1, unacceptable version.
                var span = raw.Body.Span;
                if (version == ProtocolVersion.V500 && span.Length == 2 && span[1] == (byte)ConnectReturnCode.UnacceptableProtocolVersion)
                    throw Refused(options, ReasonCode.UnsupportedProtocolVersion, ConnectReturnCode.UnacceptableProtocolVersion);
                error = MqttDecoder.Decode(raw, version, out var packet);
                if (error != DecodeError.None)
                    throw new MqttClientException($"{options.Server} sent a malformed CONNACK ({error})");
                var connAck = (ConnAckPacket)packet!;
                if (ReasonCodes.IsError(connAck.ReasonCode))
                    throw Refused(options, connAck.ReasonCode, connAck.ReturnCode, connAck.Properties?.ReasonString);
                return connAck;
            }
            finally
            {
                input.AdvanceTo(consumed);
            }
        }
    }

    private static MqttConnectException Refused(MqttClientOptions options, ReasonCode reason, ConnectReturnCode? returnCode, string? reasonString = null)
    {
        var code = returnCode is { } rc ? $"return code {(byte)rc} ({rc})" : $"reason code 0x{(byte)reason:X2} ({reason})";
        var why = reasonString is null ? "" : $": {reasonString}";
        return new MqttConnectException(reason, returnCode, $"{options.Server} refused the connection with {code}{why}");
    }

    private static MqttProperties Copy(MqttProperties given)
    {
        // The caller's object is left as it was: the client adds its own properties to a copy. Topic Alias Maximum
        // and enhanced authentication are not carried: this client handles neither.
        var copy = new MqttProperties
        {
            SessionExpiryInterval = given.SessionExpiryInterval,
            ReceiveMaximum = given.ReceiveMaximum,
            MaximumPacketSize = given.MaximumPacketSize,
            RequestResponseInformation = given.RequestResponseInformation,
            RequestProblemInformation = given.RequestProblemInformation,
        };
        if (given.UserProperties is { } user)
            copy.UserProperties = [.. user];
        return copy;
    }
}
