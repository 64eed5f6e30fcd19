namespace Kirisame.Server.MosquittoConf;

/// The mosquitto.conf directives Kirisame reads but cannot honour, and what happens to each. The rule: an error
/// (exit 2) when ignoring the directive would leave the broker less secure or keeping less than the file asks;
/// a warning when it is cosmetic or tuning. README "Migrating from mosquitto.conf" shows the same table.
internal static class UnsupportedDirectives
{
    public static readonly IReadOnlyDictionary<string, (bool IsError, string Reason)> Table = new Dictionary<string, (bool, string)>(StringComparer.Ordinal)
    {
        // Errors: authentication, authorization or isolation that would silently be missing.
        ["auth_plugin"] = (true, "plugins are not supported; use password_file/acl_file (or Kirisame's SCRAM users)"),
        ["plugin"] = (true, "plugins are not supported; use password_file/acl_file"),
        ["auth_opt_"] = (true, "plugin options are not supported (no plugins)"),
        ["plugin_opt_"] = (true, "plugin options are not supported (no plugins)"),
        ["auth_plugin_deny_special_chars"] = (true, "plugins are not supported"),
        ["psk_file"] = (true, "TLS pre-shared keys are not supported"),
        ["psk_hint"] = (true, "TLS pre-shared keys are not supported"),
        ["capath"] = (true, "a folder of CA certificates is not read; give one PEM file with cafile"),
        ["crlfile"] = (true, "certificate revocation lists are not checked"),
        ["ciphers"] = (true, "the cipher list cannot be restricted (the operating system's TLS defaults apply)"),
        ["ciphers_tls1.3"] = (true, "the cipher list cannot be restricted (the operating system's TLS defaults apply)"),
        ["tls_engine"] = (true, "OpenSSL engines are not supported"),
        ["tls_engine_kpass_sha1"] = (true, "OpenSSL engines are not supported"),
        ["tls_keyform"] = (true, "keys are read from PEM files only"),
        ["use_subject_as_username"] = (true, "only the common name becomes the user name (use_identity_as_username)"),
        ["use_username_as_clientid"] = (true, "client ids are not replaced by user names"),
        ["mount_point"] = (true, "mount points are not supported: clients would not be confined to their prefix"),
        ["clientid_prefixes"] = (true, "client id prefixes are not enforced"),
        ["bind_interface"] = (true, "listeners bind to an address, not an interface: give the address in 'listener PORT ADDRESS'"),
        ["bridge_capath"] = (true, "a folder of CA certificates is not read; give one PEM file with bridge_cafile"),
        ["bridge_psk"] = (true, "TLS pre-shared keys are not supported"),
        ["bridge_identity"] = (true, "TLS pre-shared keys are not supported"),
        ["bridge_require_ocsp"] = (true, "OCSP is not checked"),

        // Warnings: logging, tuning and behaviour Kirisame already has in its own way.
        ["log_dest"] = (false, "Kirisame logs to the console; Logging:File:Path adds a file"),
        ["log_type"] = (false, "use Logging:LogLevel:Default (Debug logs each connection)"),
        ["log_facility"] = (false, "syslog is not used; Logging:Console:FormatterName systemd suits journald"),
        ["log_timestamp"] = (false, "log lines always carry an ISO 8601 time"),
        ["log_timestamp_format"] = (false, "log lines always carry an ISO 8601 time"),
        ["connection_messages"] = (false, "connections are logged at Debug level (Logging:LogLevel:Default Debug)"),
        ["websockets_log_level"] = (false, "use Logging:LogLevel"),
        ["websockets_headers_size"] = (false, "not needed"),
        ["pid_file"] = (false, "no pid file is written"),
        ["user"] = (false, "Kirisame does not change user: start it as the user it should run as"),
        ["autosave_interval"] = (false, "Kirisame writes as it goes (Storage:Durability)"),
        ["autosave_on_changes"] = (false, "Kirisame writes as it goes (Storage:Durability)"),
        ["persistence_file"] = (false, "Kirisame keeps its own store in persistence_location; mosquitto.db is not read"),
        ["allow_duplicate_messages"] = (false, "a client gets one copy per matching subscription (MQTT 5 rules)"),
        ["allow_zero_length_clientid"] = (false, "clients without a client id get one from the broker"),
        ["auto_id_prefix"] = (false, "generated client ids have Kirisame's own prefix"),
        ["check_retain_source"] = (false, "not applied"),
        ["max_inflight_bytes"] = (false, "in-flight windows are counted in messages (max_inflight_messages)"),
        ["memory_limit"] = (false, "not applied; queue limits bound memory (max_queued_messages)"),
        ["queue_qos0_messages"] = (false, "not applied"),
        ["upgrade_outgoing_qos"] = (false, "not applied"),
        ["retry_interval"] = (false, "removed in Mosquitto 2.0; messages are resent on reconnect"),
        ["store_clean_interval"] = (false, "removed in Mosquitto 2.0"),
        ["socket_domain"] = (false, "the bind address decides the address family"),
        ["http_dir"] = (false, "WebSocket listeners serve no static files"),
        ["dhparamfile"] = (false, "not applied: .NET chooses the key exchange"),
        ["bridge_alpn"] = (false, "not applied"),
        ["bridge_tls_version"] = (false, "the operating system's TLS versions apply"),
        ["bridge_attempt_unsubscribe"] = (false, "not applied"),
        ["bridge_bind_address"] = (false, "not applied"),
        ["bridge_max_packet_size"] = (false, "not applied"),
        ["bridge_outgoing_retain"] = (false, "not applied"),
        ["idle_timeout"] = (false, "bridges with lazy or once start types are not supported: the bridge connects at start"),
        ["start_type"] = (false, "bridges connect at start and reconnect (automatic)"),
        ["threshold"] = (false, "bridges with lazy start types are not supported"),
        ["round_robin"] = (false, "addresses are tried in order, the first one preferred"),
        ["local_clientid"] = (false, "the bridge runs inside the broker; it has no local connection"),
        ["local_username"] = (false, "the bridge runs inside the broker; it has no local connection"),
        ["local_password"] = (false, "the bridge runs inside the broker; it has no local connection"),
        ["local_cleansession"] = (false, "the bridge runs inside the broker; it has no local connection"),
        ["notifications_local_only"] = (false, "notifications are published on the local broker only"),
    };

    /// The entry for a directive; auth_opt_* and plugin_opt_* by their prefix.
    public static bool TryGet(string name, out (bool IsError, string Reason) entry)
    {
        if (name.StartsWith("auth_opt_", StringComparison.Ordinal))
            name = "auth_opt_";
        else if (name.StartsWith("plugin_opt_", StringComparison.Ordinal))
            name = "plugin_opt_";
        return Table.TryGetValue(name, out entry);
    }
}
