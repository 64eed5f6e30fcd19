using Npgsql;

namespace Kirisame.Cluster;

/// The PostgreSQL membership store ("postgres:" in Cluster:Membership): checks the connection string, and creates the
/// tables and queries Orleans' ADO.NET clustering provider reads (PostgresMembership.sql, from the Orleans sources)
/// when the database has none, so that a cluster needs nothing but an empty database and a user that may create tables.
internal static class PostgresMembershipSchema
{
    /// A lock id of our own for pg_advisory_xact_lock: nodes started together create the schema once.
    private const long SchemaLock = 0x4B69_7269_7361_6D65; // "Kirisame"

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(15);

    /// Null when Npgsql accepts the connection string, or the problem, without the string (it may hold a password).
    public static string? CheckConnectionString(string connectionString)
    {
        if (connectionString.Trim().Length == 0)
            return "the Npgsql connection string after \"postgres:\" is empty (e.g. postgres:Host=127.0.0.1;Username=kirisame).";
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return string.IsNullOrEmpty(builder.Host) ? "the PostgreSQL connection string names no Host." : null;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // Npgsql's messages name the keyword, not the value.
            return $"the PostgreSQL connection string is not valid: {ex.Message}";
        }
    }

    /// Host, port and database, for the start-up summary and errors.
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username ?? "(default database)"}";
    }

    /// Connects once and creates the schema if OrleansQuery is missing; null when the database is ready, else why not.
    /// A server that cannot be reached at start is an error (the node could not join), not something to wait for.
    public static async Task<string?> EnsureAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.Timeout == 15) // Npgsql's default; a start-up check should not hang a service manager for long
            builder.Timeout = (int)s_timeout.TotalSeconds;
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SchemaLock})", connection, transaction))
                await command.ExecuteNonQueryAsync(cancellationToken);
            await using (var command = new NpgsqlCommand("SELECT to_regclass('orleansquery') IS NOT NULL", connection, transaction))
            {
                if (await command.ExecuteScalarAsync(cancellationToken) is true)
                    return null; // made by an earlier start, another node, or an operator (rolled back: nothing written)
            }

            await using (var command = new NpgsqlCommand(ReadScript(), connection, transaction))
                await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return $"cannot prepare the membership store in PostgreSQL at {Describe(connectionString)}: {ex.Message}";
        }
    }

    private static string ReadScript()
    {
        using var stream = typeof(PostgresMembershipSchema).Assembly.GetManifestResourceStream("Kirisame.Cluster.PostgresMembership.sql")
            ?? throw new InvalidOperationException("PostgresMembership.sql is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
