using Kirisame.Broker.Security;

namespace Kirisame.Broker.Tests;

/// Brokers for tests: $SYS off unless a test turns it on, options adjusted by the test.
internal static class TestBroker
{
    public static MqttBroker Create(Action<BrokerOptions>? configure = null, TimeProvider? time = null, IAuthenticator? authenticator = null,
        IAuthorizer? authorizer = null)
    {
        var options = new BrokerOptions { SysInterval = 0 };
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        return new MqttBroker(options, timeProvider: time, authenticator: authenticator, authorizer: authorizer);
    }
}
