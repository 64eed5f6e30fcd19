using Kirisame.Protocol;

namespace Kirisame.Client;

/// The connection failed or ended: a pending publish, subscribe or unsubscribe will not be acknowledged.
public class MqttClientException : Exception
{
    public MqttClientException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    public MqttClientException()
    {
    }

    public MqttClientException(string message) : base(message)
    {
    }
}

/// The server refused the connection: <see cref="Reason"/> is its CONNACK reason code (a 3.1.1 return code is
/// mapped to the 5.0 code of the same meaning; <see cref="ReturnCode"/> keeps the original).
public sealed class MqttConnectException : MqttClientException
{
    public MqttConnectException(ReasonCode reason, ConnectReturnCode? returnCode, string message) : base(message)
    {
        Reason = reason;
        ReturnCode = returnCode;
    }

    public ReasonCode Reason { get; }

    public ConnectReturnCode? ReturnCode { get; }
}
