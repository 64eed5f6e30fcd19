namespace Kirisame.Bench;

/// A run that cannot go on: the broker refused a client, spoke something other than MQTT, or went away.
public sealed class BenchException(string message) : Exception(message);
