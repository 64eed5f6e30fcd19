using System.Text;
using Kirisame.Broker.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Security;

public sealed class PasswordFileTests : IDisposable
{
    // Made by Debian's mosquitto_passwd 2.0.11: `mosquitto_passwd -c -b pw alice secret` ($7$, the default)
    // and `mosquitto_passwd -H sha512 -b pw bob pw2` ($6$).
    private const string MosquittoPbkdf2 = "$7$101$O+JaTf0HZUiKhhYE$PqxpfyVuwqVZKq6iE7eq5ih5FqgC0ZtdG0y1/rARlqbWD/Vqwr7NFeMM53J7VP9pPUWdFSqfw5E+LntWkwbMNw==";
    private const string MosquittoSha512 = "$6$RGHWloNm237e7yQL$Zaj17rdHMaQM/EYvE9LX6XCYL0eT+5hBOJA/ZbhxZGuVtW5TsO+aVMQb86akQbBziJfMaiI1PhkeHqdSNa9CtA==";

    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-pw-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void MosquittoEntries_VerifyTheirPasswords_AndNothingElse()
    {
        Assert.True(PasswordHash.Verify(MosquittoPbkdf2, "secret"u8));
        Assert.False(PasswordHash.Verify(MosquittoPbkdf2, "Secret"u8));
        Assert.True(PasswordHash.Verify(MosquittoSha512, "pw2"u8));
        Assert.False(PasswordHash.Verify(MosquittoSha512, "pw"u8));
    }

    [Fact]
    public void CreatedEntries_ArePbkdf2Sha512_AndVerify()
    {
        var entry = PasswordHash.Create("correct horse"u8, 1000);
        Assert.StartsWith("$7$1000$", entry, StringComparison.Ordinal);
        Assert.True(PasswordHash.Verify(entry, "correct horse"u8));
        Assert.False(PasswordHash.Verify(entry, "correct horse "u8));
        Assert.NotEqual(entry, PasswordHash.Create("correct horse"u8, 1000)); // salted
    }

    [Theory]
    [InlineData("plaintext")]
    [InlineData("$5$abc$def")]
    [InlineData("$7$notanumber$O+JaTf0HZUiKhhYE$PqxpfyVuwqVZKq6iE7eq5ih5FqgC0ZtdG0y1/rARlqbWD/Vqwr7NFeMM53J7VP9pPUWdFSqfw5E+LntWkwbMNw==")]
    [InlineData("$7$99999999999$O+JaTf0HZUiKhhYE$PqxpfyVuwqVZKq6iE7eq5ih5FqgC0ZtdG0y1/rARlqbWD/Vqwr7NFeMM53J7VP9pPUWdFSqfw5E+LntWkwbMNw==")]
    [InlineData("$6$RGHWloNm237e7yQL$tooshort")]
    [InlineData("$scram-sha256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$c2hvcnQ=$c2hvcnQ=")]
    [InlineData("$scram-sha256$0$W22ZaJ0SNY7soEsUEjb6gQ==$WG5ZhsgCwM5ryZ8tk1ZmUK8gJ2wmh8aZ1bA2p1kmJx8=$WG5ZhsgCwM5ryZ8tk1ZmUK8gJ2wmh8aZ1bA2p1kmJx8=")]
    [InlineData("$scram-sha256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$WG5ZhsgCwM5ryZ8tk1ZmUK8gJ2wmh8aZ1bA2p1kmJx8=")]
    public void MalformedEntries_AreRejected_WithTheLineNumber(string hash)
    {
        Assert.False(PasswordHash.Verify(hash, "x"u8));
        var error = Assert.Throws<FormatException>(() => PasswordFile.Parse($"# users\nalice:{MosquittoSha512}\nbob:{hash}\n"));
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SkipsCommentsAndBlankLines_AndRefusesDuplicates()
    {
        var file = PasswordFile.Parse($"# comment\n\nalice:{MosquittoPbkdf2}\r\nbob:{MosquittoSha512}\n");
        Assert.Equal(2, file.Count);
        Assert.True(file.TryGetHash("bob", out var bob));
        Assert.Equal(MosquittoSha512, bob);
        Assert.Throws<FormatException>(() => PasswordFile.Parse($"alice:{MosquittoSha512}\nalice:{MosquittoSha512}\n"));
    }

    [Fact]
    public void SetPassword_ReplacesOneUser_KeepingOtherLines()
    {
        var path = Path.Combine(_directory, "passwd");
        File.WriteAllText(path, $"# keep me\nalice:{MosquittoPbkdf2}\nbob:{MosquittoSha512}\n");
        PasswordFile.SetPassword(path, "alice", "new"u8, 1000);
        PasswordFile.SetPassword(path, "carol", "c"u8, 1000);

        var lines = File.ReadAllLines(path);
        Assert.Equal("# keep me", lines[0]);
        Assert.Equal($"bob:{MosquittoSha512}", lines[2]);
        var file = PasswordFile.Parse(File.ReadAllText(path));
        Assert.True(file.TryGetHash("alice", out var alice));
        Assert.True(PasswordHash.Verify(alice, "new"u8));
        Assert.True(file.TryGetHash("carol", out var carol));
        Assert.True(PasswordHash.Verify(carol, "c"u8));
        Assert.Throws<ArgumentException>(() => PasswordFile.SetPassword(path, "a:b", "x"u8, 1000));
    }

    /// Group-readable, so that `chgrp mosquitto` lets Mosquitto (which drops privileges) read it; never world-readable.
    [Fact]
    public void NewPasswordFile_IsReadableByItsOwnerAndGroup_NotByOthers()
    {
        if (OperatingSystem.IsWindows())
            return;
        var path = Path.Combine(_directory, "fresh");
        PasswordFile.SetPassword(path, "alice", "a"u8, 1000);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
    }

    /// `chown root:mosquitto; chmod 640` done once by the operator survives every later change.
    [Fact]
    public async Task ChangedPasswordFile_KeepsItsModeAndGroup()
    {
        if (OperatingSystem.IsWindows())
            return;
        var path = Path.Combine(_directory, "shared");
        PasswordFile.SetPassword(path, "alice", "a"u8, 1000);
        var group = await OtherGroupAsync();
        Assert.Equal("", await RunAsync("chgrp", group, path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);

        PasswordFile.SetPassword(path, "bob", "b"u8, 1000);

        Assert.Equal(2, PasswordFile.Parse(File.ReadAllText(path)).Count);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(path));
        Assert.Equal(group, (await RunAsync("stat", "-c", "%g", path)).Trim());
    }

    /// A group the file can be given that is not the writer's own: any (daemon, 1) as root, else a supplementary one.
    private static async Task<string> OtherGroupAsync()
    {
        if ((await RunAsync("id", "-u")).Trim() == "0")
            return "1";
        var groups = (await RunAsync("id", "-G")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(groups.Length > 1, "This test needs root or a supplementary group to give the file to.");
        return groups[1];
    }

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed");
        return output;
    }

    [Fact]
    public void WatchedFile_PicksUpAChange_AndKeepsTheOldContentsWhenTheNewOnesAreBroken()
    {
        var path = Path.Combine(_directory, "watched");
        var time = new FakeTimeProvider();
        File.WriteAllText(path, $"alice:{MosquittoSha512}\n");
        var watched = WatchedFile.Load(path, PasswordFile.Parse, NullLogger.Instance, time);
        Assert.Equal(1, watched.Current.Count);

        File.WriteAllText(path, $"alice:{MosquittoSha512}\nbob:{MosquittoPbkdf2}\n");
        Assert.Equal(1, watched.Current.Count); // not checked again within the interval
        time.Advance(WatchedFile.CheckInterval);
        Assert.Equal(2, watched.Current.Count);

        File.WriteAllText(path, "this is not a password file at all\n");
        time.Advance(WatchedFile.CheckInterval);
        Assert.Equal(2, watched.Current.Count);
    }

    // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations. An entry
    // made from them must hold keys that accept the RFC's client proof and produce its server signature.
    [Fact]
    public void ScramEntry_HoldsTheKeysOfTheRfc7677Example()
    {
        var salt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");
        var entry = PasswordHash.Format(ScramCredential.FromPassword("pencil"u8, 4096, salt));
        Assert.StartsWith("$scram-sha256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$", entry, StringComparison.Ordinal);
        var file = PasswordFile.Parse($"user:{entry}\n");
        Assert.True(file.TryGetScramCredential("user", out var credential));

        const string nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        var authMessage = Encoding.UTF8.GetBytes(
            $"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}");
        var proof = Convert.FromBase64String("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        var signature = System.Security.Cryptography.HMACSHA256.HashData(credential.StoredKey, authMessage);
        var clientKey = proof.Zip(signature, (p, s) => (byte)(p ^ s)).ToArray();
        Assert.Equal(credential.StoredKey, System.Security.Cryptography.SHA256.HashData(clientKey));
        Assert.Equal("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(credential.ServerKey, authMessage)));
    }

    [Fact]
    public void ScramEntry_VerifiesThePlainPassword_AsAnyOtherEntry()
    {
        var entry = PasswordHash.CreateScramSha256("correct horse"u8, 1000);
        Assert.StartsWith("$scram-sha256$1000$", entry, StringComparison.Ordinal);
        Assert.True(PasswordHash.IsValid(entry, out _));
        Assert.True(PasswordHash.Verify(entry, "correct horse"u8));
        Assert.False(PasswordHash.Verify(entry, "correct horse "u8));
        Assert.False(PasswordHash.Verify(entry, ""u8));
        Assert.NotEqual(entry, PasswordHash.CreateScramSha256("correct horse"u8, 1000)); // salted
    }

    [Fact]
    public void OnlyScramEntries_HaveAScramCredential()
    {
        var path = Path.Combine(_directory, "passwd");
        PasswordFile.SetPassword(path, "alice", "a"u8, 1000);
        PasswordFile.SetEntry(path, "bob", PasswordHash.CreateScramSha256("b"u8, 1000));
        var file = PasswordFile.Parse(File.ReadAllText(path));
        Assert.Equal(2, file.Count);
        Assert.False(file.TryGetScramCredential("alice", out _));
        Assert.True(file.TryGetScramCredential("bob", out var bob));
        Assert.Equal(1000, bob.Iterations);
        Assert.False(file.TryGetScramCredential("carol", out _));
        Assert.Throws<ArgumentException>(() => PasswordFile.SetEntry(path, "carol", "$scram-sha256$1$x$y$z"));
    }
}
