using System.Text.Json;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.MosquittoConf;

/// `kirisame config convert FILE` on mosquitto.conf files (the real command): the keys it produces, one by one,
/// and what it reports about the directives it cannot honour.
public sealed class MosquittoConfConvertTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("kirisame-mosquitto-conf-");

    public void Dispose() => _directory.Delete(recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory.FullName, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task RealisticConf_WithIncludeDirListenersAndABridge_ConvertsKeyByKey()
    {
        var main = Write("mosquitto.conf", """
            # A broker with a plain, a TLS and a WebSocket listener, each with its own security.
            per_listener_settings true
            persistence true
            persistence_location /var/lib/mosquitto/
            log_dest file /var/log/mosquitto/mosquitto.log
            max_queued_messages 500
            max_inflight_messages 0
            sys_interval 5
            retain_available false

            listener 1883 127.0.0.1
            allow_anonymous true
            max_connections -1

            listener 8883 0.0.0.0
            certfile /etc/mosquitto/certs/server.crt
            keyfile /etc/mosquitto/certs/server.key
            cafile /etc/mosquitto/ca_certificates/ca.crt
            require_certificate true
            use_identity_as_username true
            password_file /etc/mosquitto/passwd
            max_connections 100

            include_dir conf.d
            """);
        // Read after the main file, in Mosquitto's order: A.conf before b.conf.
        Write("conf.d/b.conf", """
            listener 8080 127.0.0.1
            protocol websockets
            acl_file /etc/mosquitto/acl

            connection to-cloud
            address 10.0.0.1:8883 backup.example
            bridge_cafile /etc/mosquitto/ca_certificates/cloud.crt
            bridge_protocol_version mqttv50
            remote_clientid edge-1
            remote_username edge
            remote_password secret
            cleansession true
            keepalive_interval 30
            try_private false
            restart_timeout 10 60
            notification_topic edge/bridge/state
            topic sensors/# out 1
            topic cmd/# in 2 local/ remote/
            topic "" both 0 a/b c/d
            bogus_thing 3
            """);
        Write("conf.d/A.conf", "message_size_limit 1000\n");
        Write("conf.d/ignored.txt", "auth_plugin /not/read.so\n");

        var result = await KirisameProcess.RunToCompletionAsync(["config", "convert", main], s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        var keys = Flatten(result.Stdout);
        var expected = new Dictionary<string, string>
        {
            ["Storage:InMemory"] = "false",
            ["Storage:DataDirectory"] = "/var/lib/mosquitto/",
            ["Broker:MaxQueuedMessages"] = "500",
            ["Broker:MaxInflightMessages"] = "65535",
            ["Broker:SysInterval"] = "5",
            ["Broker:RetainAvailable"] = "false",
            ["Broker:MaximumPacketSize"] = "66800",
            ["Transport:Enabled"] = "false",
            ["Listeners:mqtt-1883:Protocol"] = "Mqtt",
            ["Listeners:mqtt-1883:Port"] = "1883",
            ["Listeners:mqtt-1883:BindAddress"] = "127.0.0.1",
            ["Listeners:mqtt-1883:AllowAnonymous"] = "true",
            ["Listeners:mqtt-1883:MaxConnections"] = "0",
            ["Listeners:mqtts-8883:Protocol"] = "Mqtts",
            ["Listeners:mqtts-8883:Port"] = "8883",
            ["Listeners:mqtts-8883:BindAddress"] = "0.0.0.0",
            ["Listeners:mqtts-8883:Certificate"] = "/etc/mosquitto/certs/server.crt",
            ["Listeners:mqtts-8883:PrivateKey"] = "/etc/mosquitto/certs/server.key",
            ["Listeners:mqtts-8883:ClientCertificates"] = "Required",
            ["Listeners:mqtts-8883:ClientCaFile"] = "/etc/mosquitto/ca_certificates/ca.crt",
            ["Listeners:mqtts-8883:CertificateIdentity"] = "CommonName",
            ["Listeners:mqtts-8883:MaxConnections"] = "100",
            // per_listener_settings: a listener without allow_anonymous refuses anonymous clients (Mosquitto 2.0).
            ["Listeners:mqtts-8883:AllowAnonymous"] = "false",
            ["Listeners:mqtts-8883:PasswordFile"] = "/etc/mosquitto/passwd",
            ["Listeners:ws-8080:Protocol"] = "Ws",
            ["Listeners:ws-8080:Port"] = "8080",
            ["Listeners:ws-8080:BindAddress"] = "127.0.0.1",
            ["Listeners:ws-8080:AllowAnonymous"] = "false",
            ["Listeners:ws-8080:AclFile"] = "/etc/mosquitto/acl",
            ["Bridges:to-cloud:Addresses:0"] = "mqtts://10.0.0.1:8883",
            ["Bridges:to-cloud:Addresses:1"] = "mqtts://backup.example:1883",
            ["Bridges:to-cloud:CaFile"] = "/etc/mosquitto/ca_certificates/cloud.crt",
            ["Bridges:to-cloud:ProtocolVersion"] = "5",
            ["Bridges:to-cloud:ClientId"] = "edge-1",
            ["Bridges:to-cloud:UserName"] = "edge",
            ["Bridges:to-cloud:Password"] = "secret",
            ["Bridges:to-cloud:CleanStart"] = "true",
            ["Bridges:to-cloud:KeepAlive"] = "30",
            ["Bridges:to-cloud:TryPrivate"] = "false",
            ["Bridges:to-cloud:RestartTimeoutBase"] = "10",
            ["Bridges:to-cloud:RestartTimeoutCap"] = "60",
            ["Bridges:to-cloud:NotificationTopic"] = "edge/bridge/state",
            ["Bridges:to-cloud:Topics:0:Pattern"] = "sensors/#",
            ["Bridges:to-cloud:Topics:0:Direction"] = "out",
            ["Bridges:to-cloud:Topics:0:QoS"] = "1",
            ["Bridges:to-cloud:Topics:0:LocalPrefix"] = "",
            ["Bridges:to-cloud:Topics:0:RemotePrefix"] = "",
            ["Bridges:to-cloud:Topics:1:Pattern"] = "cmd/#",
            ["Bridges:to-cloud:Topics:1:Direction"] = "in",
            ["Bridges:to-cloud:Topics:1:QoS"] = "2",
            ["Bridges:to-cloud:Topics:1:LocalPrefix"] = "local/",
            ["Bridges:to-cloud:Topics:1:RemotePrefix"] = "remote/",
            ["Bridges:to-cloud:Topics:2:Pattern"] = "",
            ["Bridges:to-cloud:Topics:2:Direction"] = "both",
            ["Bridges:to-cloud:Topics:2:QoS"] = "0",
            ["Bridges:to-cloud:Topics:2:LocalPrefix"] = "a/b",
            ["Bridges:to-cloud:Topics:2:RemotePrefix"] = "c/d",
        };
        foreach (var (key, value) in expected)
        {
            Assert.True(keys.TryGetValue(key, out var actual), $"{key} missing from:\n{result.Stdout}");
            Assert.True(value == actual, $"{key}: expected '{value}', got '{actual}'");
        }

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), keys.Keys.Order(StringComparer.Ordinal));
        // Warnings name the file and line; nothing is an error here, and ignored.txt was not read.
        Assert.Contains("mosquitto.conf:5: warning: log_dest", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("b.conf:2: warning: Kirisame serves MQTT over WebSockets on the path /mqtt only", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("b.conf:20: warning: unknown directive 'bogus_thing'", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("A.conf:1: warning: message_size_limit", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("error", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("auth_plugin", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GlobalSecurity_WithAListener_RefusesAnonymousUnlessAllowed_AsMosquitto2()
    {
        var conf = Write("global.conf", "listener 1884\npassword_file /etc/mosquitto/passwd\nacl_file /etc/mosquitto/acl\nport 1999\n");
        var open = Write("open.conf", "listener 1884 127.0.0.1\nallow_anonymous true\n");
        var local = Write("local.conf", "sys_interval 1\n");

        var keys = Flatten((await ConvertAsync(conf)).Stdout);
        var openKeys = Flatten((await ConvertAsync(open)).Stdout);
        var localKeys = Flatten((await ConvertAsync(local)).Stdout);

        Assert.Equal("false", keys["Security:AllowAnonymous"]);
        Assert.Equal("/etc/mosquitto/passwd", keys["Security:PasswordFile"]);
        Assert.Equal("/etc/mosquitto/acl", keys["Security:AclFile"]);
        // port: the default listener, on every interface, beside the declared one.
        Assert.Equal("1999", keys["Listeners:mqtt-1999:Port"]);
        Assert.Equal("0.0.0.0", keys["Listeners:mqtt-1884:BindAddress"]);
        Assert.False(keys.ContainsKey("Listeners:mqtt-1884:AllowAnonymous"));
        Assert.Equal("true", openKeys["Security:AllowAnonymous"]);
        // No listener at all: Mosquitto's local-only mode, which is Kirisame's default listener as it is.
        Assert.Equal(["Broker:SysInterval"], localKeys.Keys);
    }

    [Fact]
    public async Task ErrorDirectives_ExitTwo_NamingFileAndLine_ForConvertAndServe()
    {
        var conf = Write("mosquitto.conf", """
            listener 1883 127.0.0.1
            allow_anonymous maybe
            auth_plugin /usr/lib/mosquitto-go-auth.so
            log_type all
            mount_point tenant/
            """);

        var convert = await ConvertAsync(conf);
        var serve = await KirisameProcess.RunToCompletionAsync(["--mosquitto-conf", conf, "--Management:Enabled", "false"], s_timeout);

        foreach (var result in new[] { convert, serve })
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("mosquitto.conf:2: error: allow_anonymous must be true or false (was 'maybe')", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("mosquitto.conf:3: error: auth_plugin is not supported", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("mosquitto.conf:4: warning: log_type", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("mosquitto.conf:5: error: mount_point", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal("", convert.Stdout);
    }

    [Fact]
    public async Task MosquittoConf_GivenToConfig_ExitsTwo_WithAHint()
    {
        var conf = Write("mosquitto.conf", "# Mosquitto\nlistener 1883\nallow_anonymous true\n");

        var result = await KirisameProcess.RunToCompletionAsync(["--config", conf], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("not valid JSON at line 1, column 1", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("looks like a mosquitto.conf: use --mosquitto-conf", result.Stderr, StringComparison.Ordinal);
    }

    private static Task<ToolResult> ConvertAsync(string file) => KirisameProcess.RunToCompletionAsync(["config", "convert", file], s_timeout);

    /// The JSON as configuration keys ("A:B:0:C" → value), booleans and numbers as their text.
    private static Dictionary<string, string> Flatten(string json)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        Walk(document.RootElement, "");
        return keys;

        void Walk(JsonElement element, string prefix)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                        Walk(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}:{property.Name}");
                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in element.EnumerateArray())
                        Walk(item, $"{prefix}:{i++}");
                    break;
                case JsonValueKind.String:
                    keys[prefix] = element.GetString()!;
                    break;
                default:
                    keys[prefix] = element.GetRawText();
                    break;
            }
        }
    }
}
