using System.Globalization;

namespace Kirisame.Testing;

/// mosquitto_pub and mosquitto_sub against a broker on 127.0.0.1.
public static class MosquittoClients
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    public static string Pub => Tools.Find("mosquitto_pub", "/usr/bin/mosquitto_pub");

    public static string Sub => Tools.Find("mosquitto_sub", "/usr/bin/mosquitto_sub");

    /// version: mqttv31, mqttv311 or mqttv5. extra arguments follow, e.g. "-D", "publish", "content-type", "text/plain".
    public static Task<ToolResult> PublishAsync(int port, string topic, string message, int qos = 0,
        string version = "mqttv311", bool retain = false, IEnumerable<string>? extra = null)
    {
        List<string> arguments =
        [
            "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-V", version,
            "-q", qos.ToString(CultureInfo.InvariantCulture), "-t", topic, "-m", message,
        ];
        if (retain)
            arguments.Add("-r");
        arguments.AddRange(extra ?? []);
        return Tools.RunAsync(Pub, arguments, DefaultTimeout);
    }

    /// Starts mosquitto_sub with -v (lines are "topic payload") and -d (debug lines show the SUBACK, so a
    /// test can wait until the subscription is in place). Extra arguments follow, e.g. "-C", "1".
    /// stdout is a pipe, so mosquitto_sub would block-buffer its debug lines; stdbuf makes it line-buffered.
    public static ExternalProcess StartSubscriber(int port, string topic, int qos = 0, string version = "mqttv311",
        params string[] extra) =>
        ExternalProcess.Start(Tools.Find("stdbuf", "/usr/bin/stdbuf"),
        [
            "-oL", Sub, "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-V", version,
            "-q", qos.ToString(CultureInfo.InvariantCulture), "-t", topic, "-v", "-d", .. extra,
        ]);

    /// Waits until mosquitto_sub reports its SUBACK.
    public static async Task WaitUntilSubscribedAsync(ExternalProcess subscriber)
    {
        var line = await subscriber.WaitForLineAsync(l => l.Contains("received SUBACK", StringComparison.Ordinal), DefaultTimeout);
        if (line is null)
            throw new TimeoutException($"mosquitto_sub never received its SUBACK.\n{subscriber.Describe()}");
    }
}
