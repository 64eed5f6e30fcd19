using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Kirisame.Server.Logging;

/// The default console format (`Logging:Console:FormatterName` `kirisame`): one line per entry,
///
///     2026-12-03T21:54:42.123+00:00 info  Kirisame.Broker: Listening on mqtt://127.0.0.1:1883
///
/// an ISO 8601 timestamp with the date and the UTC offset (a log file read a day later, or on a host in another
/// time zone, must say when), the level padded to one width, the category, the message, and an exception's text
/// on the lines after it, indented. No event id: the .NET simple formatter prints one in brackets for every line
/// ("BrokerLifecycle[1211495886]"), which tells an operator nothing. `json` and `systemd` stay available.
internal sealed class KirisameConsoleFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "kirisame";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
            return;
        textWriter.Write(LogLine.Format(DateTimeOffset.Now, logEntry.LogLevel, logEntry.Category, message, logEntry.Exception));
    }
}

/// One log line as the console formatter and the file target write it.
internal static class LogLine
{
    public static string Format(DateTimeOffset time, LogLevel level, string category, string? message, Exception? exception)
    {
        var line = $"{time:yyyy-MM-dd'T'HH:mm:ss.fffzzz} {Level(level),-5} {category}: {message}{Environment.NewLine}";
        if (exception is null)
            return line;
        var indented = "    " + exception.ToString().ReplaceLineEndings(Environment.NewLine + "    ");
        return line + indented + Environment.NewLine;
    }

    public static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
