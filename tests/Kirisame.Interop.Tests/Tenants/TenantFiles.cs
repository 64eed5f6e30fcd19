using System.Text.Json;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Tenants;

/// A folder with a tenants file and password files made by mosquitto_passwd, for a server started in a test.
internal sealed class TenantFiles : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kirisame-tenants-").FullName;

    public string TenantsFile => Path.Combine(Directory, "tenants.json");

    /// Failed logins neither delayed nor banned: the tests refuse clients on purpose.
    public static readonly string[] Lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];

    /// A server with tenants a and b (anonymous inside) and the Jwt source with an HS256 secret, whose claim "org"
    /// names the client's tenant; the secret, to sign tokens with.
    public async Task<(byte[] Secret, KirisameProcess Server)> StartWithTenantClaimAsync()
    {
        var secret = Security.Hooks.TestTokens.NewSecret();
        var secretFile = Path.Combine(Directory, "secret");
        await File.WriteAllBytesAsync(secretFile, secret);
        WriteTenants(new Dictionary<string, object> { ["a"] = new { }, ["b"] = new { } });
        var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:SecretFile", secretFile,
            "--Authentication:Jwt:TenantClaim", "org", "--Tenants:File", TenantsFile, .. Lenient]);
        return (secret, server);
    }

    /// A password file named <paramref name="name"/> with the given users (user → password).
    public async Task<string> PasswordFileAsync(string name, params (string User, string Password)[] users)
    {
        var path = Path.Combine(Directory, name);
        foreach (var (user, password) in users)
        {
            string[] arguments = File.Exists(path) ? ["-b", path, user, password] : ["-c", "-b", path, user, password];
            var made = await Tools.RunAsync(Tools.Find("mosquitto_passwd", "/usr/bin/mosquitto_passwd"), arguments, s_timeout);
            Assert.True(made.ExitCode == 0, made.ToString());
        }

        return path;
    }

    /// Writes the tenants file: tenant name → its settings (PasswordFile, AclFile, AllowAnonymous, ServerNames, Quotas).
    /// Written to a new file and moved into place, as an editor would, so the server never reads half of it.
    public void WriteTenants(object tenants)
    {
        var temporary = TenantsFile + ".new";
        File.WriteAllText(temporary, JsonSerializer.Serialize(new { Tenants = tenants }));
        File.Move(temporary, TenantsFile, overwrite: true);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
