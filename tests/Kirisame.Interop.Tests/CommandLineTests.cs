using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// The `kirisame` command itself: arguments, configuration sources, logging and shutdown. Always the real
/// server, whatever KIRISAME_TEST_BROKER says.
public sealed class CommandLineTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("serve", "--help")]
    public async Task Help_ExitsZero_AndDescribesTheOptions(params string[] arguments)
    {
        var result = await KirisameProcess.RunToCompletionAsync(arguments, s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--port", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--config", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("KIRISAME__", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    [InlineData("Kestrel")]
    public async Task ASecondBroker_OnTheSamePort_RefusesToStart_AndTheFirstKeepsItsClients(string engine)
    {
        // The plain TCP listener once set SO_REUSEPORT (what .NET's ReuseAddress means on Linux): a second broker
        // bound the same port and the kernel split new clients between the two.
        await using var first = await KirisameProcess.StartAsync(["--Transport:PlainTcpEngine", engine]);
        var port = first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var second = await KirisameProcess.RunToCompletionAsync(
            ["--port", port, "--in-memory", "--Transport:PlainTcpEngine", engine], TimeSpan.FromSeconds(20));

        Assert.False(second.TimedOut, "the second broker started on a port in use:\n" + second);
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", second.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", second.Stdout + second.Stderr, StringComparison.Ordinal); // no stack trace first
        Assert.False(first.Process.HasExited);
        for (var i = 0; i < 4; i++)
        {
            // Every new client still reaches the first broker (none was handed to a second listener).
            var published = await MosquittoClients.PublishAsync(first.Port, "still/here", "x", qos: 1);
            Assert.Equal(0, published.ExitCode);
        }
    }

    [Theory]
    [InlineData("--Logging:LogLevel:Default", "Verbose", "Logging:LogLevel:Default must be Trace, Debug")]
    [InlineData("--Logging:LogLevel:Kirisame.Connection", "7", "Logging:LogLevel:Kirisame.Connection must be")]
    [InlineData("--Logging:Console:FormatterName", "fancy", "Logging:Console:FormatterName must be kirisame, simple, json, systemd")]
    public async Task ABadLoggingSetting_ExitsTwo_NamingTheKey_WithoutAStackTrace(string key, string value, string message)
    {
        // A bad level used to crash with an unhandled InvalidOperationException (exit 134); a bad formatter was ignored.
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--in-memory", key, value], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_ExitsZero_AndPrintsTheVersion()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--version"], s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^kirisame \d+\.\d+\.\d+", result.Stdout);
    }

    [Theory]
    [InlineData("Broker:MaximumQoS must be 0, 1 or 2 (was 7).", "--Broker:MaximumQoS", "7")]
    [InlineData("Broker:MaximumQoS must be 0, 1 or 2 (was 7).", "--Broker:MaximumQoS=7")]
    [InlineData("Broker:MaximumPacketSize must be a whole number", "--Broker:MaximumPacketSize", "lots")]
    [InlineData("Broker:MaxPartialPacketBytes must be 0 (no limit) or at least Broker:MaximumPacketSize (16777216)", "--Broker:MaxPartialPacketBytes", "1048576")]
    [InlineData("Transport:Port must be between 0 and 65535", "--port", "70000")]
    [InlineData("Transport:BindAddress must be an IP address", "--bind", "not-an-address")]
    [InlineData("Transport:NoDelay must be true or false", "--Transport:NoDelay", "sometimes")]
    [InlineData("Broker:QueueOverflowAction must be one of DropOldest, Disconnect (was 'Block').", "--Broker:QueueOverflowAction", "Block")]
    [InlineData("Unknown option Broker:MaximumQos2", "--Broker:MaximumQos2", "1")]
    [InlineData("Unknown configuration section 'Brokr'", "--Brokr:MaximumQoS", "1")]
    [InlineData("Unknown option '--frobnicate'", "--frobnicate")]
    [InlineData("Option '--port' needs a value", "--port")]
    [InlineData("Unknown command 'start'", "start")]
    public async Task BadArgument_ExitsNonZero_NamingTheProblem(string expectedMessage, params string[] arguments)
    {
        var result = await KirisameProcess.RunToCompletionAsync(arguments, s_timeout);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains(expectedMessage, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadEnvironmentValue_ExitsNonZero_NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync([], s_timeout,
            new Dictionary<string, string?> { ["KIRISAME__Broker__MaxInflightMessages"] = "0" });

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("Broker:MaxInflightMessages must be between 1 and 65535 (was 0).", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadConfigFile_ExitsNonZero_NamingTheKeyOrTheFile()
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-config-");
        try
        {
            var unknownKey = Path.Combine(directory.FullName, "unknown.json");
            await File.WriteAllTextAsync(unknownKey, """{ "Broker": { "SysIntreval": 5 } }""");
            var brokenJson = Path.Combine(directory.FullName, "broken.json");
            await File.WriteAllTextAsync(brokenJson, """{ "Broker": """);

            var unknown = await KirisameProcess.RunToCompletionAsync(["--config", unknownKey], s_timeout);
            var broken = await KirisameProcess.RunToCompletionAsync(["--config", brokenJson], s_timeout);
            var missing = await KirisameProcess.RunToCompletionAsync(["--config", Path.Combine(directory.FullName, "absent.json")], s_timeout);

            Assert.True(unknown.ExitCode != 0, unknown.ToString());
            Assert.Contains("Unknown option Broker:SysIntreval", unknown.Stderr, StringComparison.Ordinal);
            Assert.True(broken.ExitCode != 0, broken.ToString());
            Assert.Contains("broken.json", broken.Stderr, StringComparison.Ordinal);
            Assert.Contains("not valid JSON at line 1", broken.Stderr, StringComparison.Ordinal);

            // Where the mistake is, not only that there is one (issue 17, item 4): a missing comma on line 4.
            var missingComma = Path.Combine(directory.FullName, "comma.json");
            await File.WriteAllTextAsync(missingComma, "{\n  \"Broker\": {\n    \"SysInterval\": 5\n  }\n  \"Storage\": {}\n}\n");
            var comma = await KirisameProcess.RunToCompletionAsync(["--config", missingComma], s_timeout);
            Assert.True(comma.ExitCode == 2, comma.ToString());
            Assert.Contains("not valid JSON at line 5, column 3", comma.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", comma.Stderr + comma.Stdout, StringComparison.Ordinal);
            Assert.True(missing.ExitCode != 0, missing.ToString());
            Assert.Contains("absent.json' does not exist", missing.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task BadAclFile_ExitsTwo_WithoutFirstSayingThereIsNoAclFile()
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-acl-");
        try
        {
            var acl = Path.Combine(directory.FullName, "acl");
            await File.WriteAllTextAsync(acl, "user alice\ntopic read x\nbogus line here\n");
            var result = await KirisameProcess.RunToCompletionAsync(["--in-memory", "--port", "0", "--acl-file", acl], s_timeout);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("line 3", result.Stderr, StringComparison.Ordinal);
            // Issue 17, item 5: the listener's summary ("no password file … (no ACL file)") came first and contradicted it.
            Assert.DoesNotContain("no ACL file", result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("""{ "Authentication": { "Scram": { "Users": { "": "secret" } } } }""",
        "Authentication:Scram:Users: has an empty user name.")]
    [InlineData("""{ "Authentication": { "Scram": { "Users": { "alice": "" } } } }""",
        "Authentication:Scram:Users:alice must not have an empty password.")]
    [InlineData("""{ "Authentication": { "Scram": { "Users": { "alice": { "Password": "x" } } } } }""",
        "Authentication:Scram:Users:alice must be a password, not a section.")]
    [InlineData("""{ "Authentication": { "Scram": { "Iterations": 1 } } }""",
        "Unknown option Authentication:Scram:Iterations")]
    [InlineData("""{ "Authentication": { "Passwords": "file.txt" } }""",
        "Unknown option Authentication:Passwords")]
    public async Task BadScramUser_ExitsNonZero_NamingTheKey(string json, string expectedMessage)
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-config-");
        try
        {
            var path = Path.Combine(directory.FullName, "kirisame.json");
            await File.WriteAllTextAsync(path, json);

            var result = await KirisameProcess.RunToCompletionAsync(["--config", path], s_timeout);

            Assert.True(result.ExitCode != 0, result.ToString());
            Assert.Contains(expectedMessage, result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task EmptyScramPasswordFromEnvironment_ExitsNonZero_NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync([], s_timeout,
            new Dictionary<string, string?> { ["KIRISAME__Authentication__Scram__Users__bob"] = "" });

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("Authentication:Scram:Users:bob must not have an empty password.", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_LogsWhereItListens()
    {
        await using var server = await KirisameProcess.StartAsync();

        var line = await server.Process.WaitForLineAsync(
            l => l.Contains($"Listening for MQTT on mqtt://127.0.0.1:{server.Port}", StringComparison.Ordinal), s_timeout);
        Assert.True(line is not null, server.Describe());
    }

    [Fact]
    public async Task LoggingOverride_ShowsConnectionLevelDebugLogs()
    {
        await using var server = await KirisameProcess.StartAsync(["--Logging:LogLevel:Default", "Debug"]);
        await using var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);

        var line = await server.Process.WaitForLineAsync(l => l.Split(' ', 3) is [_, "debug", _], s_timeout);
        Assert.True(line is not null, server.Describe());
    }

    [Fact]
    public async Task ClientThatLeavesWithoutDisconnect_IsLoggedAsSuch_NotAsANullReason()
    {
        await using var server = await KirisameProcess.StartAsync(["--Logging:LogLevel:Default", "Debug"]);
        var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, "leaver");
        client.Drop();

        var line = await server.Process.WaitForLineAsync(l => l.Contains("Client leaver gone", StringComparison.Ordinal), s_timeout);
        Assert.True(line is not null, server.Describe());
        Assert.Contains("connection lost without DISCONNECT", line, StringComparison.Ordinal);
        Assert.DoesNotContain("(null)", line, StringComparison.Ordinal);
    }

    /// The same key from each source, checked through what a v5 client sees in CONNACK (Maximum QoS).
    [Theory]
    [InlineData(null, null, null, MqttQualityOfServiceLevel.ExactlyOnce)]
    [InlineData("1", null, null, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(null, "0", null, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData("1", "0", null, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData("0", "0", "1", MqttQualityOfServiceLevel.AtLeastOnce)]
    public async Task Configuration_CommandLineBeatsEnvironmentBeatsFile(string? file, string? environment, string? commandLine,
        MqttQualityOfServiceLevel expected)
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-config-");
        try
        {
            var arguments = new List<string>();
            if (file is not null)
            {
                var path = Path.Combine(directory.FullName, "kirisame.json");
                await File.WriteAllTextAsync(path, $$"""{ "Broker": { "MaximumQoS": {{file}} } }""");
                arguments.AddRange(["--config", path]);
            }
            if (commandLine is not null)
                arguments.AddRange(["--Broker:MaximumQoS", commandLine]);
            var variables = new Dictionary<string, string?>();
            if (environment is not null)
                variables["KIRISAME__Broker__MaximumQoS"] = environment;

            await using var server = await KirisameProcess.StartAsync(arguments, variables);
            await using var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);

            Assert.Equal(expected, client.ConnectResult!.MaximumQoS);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Sigterm_SendsV5ClientsServerShuttingDown_AndExitsZero()
    {
        await using var server = await KirisameProcess.StartAsync();
        await using var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);

        server.Process.Terminate();

        var disconnected = await Poll.WithTimeout(client.Disconnected, s_timeout, "DISCONNECT from the server");
        Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, disconnected.Reason);
        Assert.True(await server.Process.WaitForExitAsync(s_timeout), server.Describe());
        Assert.True(server.Process.ExitCode == 0, server.Describe());
    }
}
