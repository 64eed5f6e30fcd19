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

    [Fact]
    public void NewPasswordFile_IsReadableByItsOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
            return;
        var path = Path.Combine(_directory, "fresh");
        PasswordFile.SetPassword(path, "alice", "a"u8, 1000);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
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
}
