using System.Text.RegularExpressions;
using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// docs/kirisame.1 is `kirisame --man`, which renders the --help texts: the page cannot drift from the help.
public sealed partial class ManPageTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static string CommittedPage => Path.Combine(Repository.Root, "docs", "kirisame.1");

    [Fact]
    public async Task CommittedManPage_IsWhatKirisameManPrints()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--man"], s_timeout);
        Assert.True(result.ExitCode == 0, result.ToString());
        var committed = (await File.ReadAllTextAsync(CommittedPage)).TrimEnd('\n');
        Assert.True(committed == result.Stdout.TrimEnd('\n'),
            "docs/kirisame.1 differs from the --help texts: regenerate it with " +
            "'dotnet src/Kirisame.Server/bin/Release/net10.0/kirisame.dll --man > docs/kirisame.1'.");
    }

    [Fact]
    public async Task ManPage_RendersWithMan_AndShowsEveryOptionOfTheHelp()
    {
        var help = await KirisameProcess.RunToCompletionAsync(["--help"], s_timeout);
        Assert.Equal(0, help.ExitCode);
        var options = OptionPattern().Matches(help.Stdout).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Contains("--data-dir", options);

        // Wide enough that no option is broken across lines; man prints plain text to a pipe.
        var man = await Tools.RunAsync(Tools.Find("man", "/usr/bin/man"), ["-l", CommittedPage], s_timeout,
            new Dictionary<string, string?> { ["MANWIDTH"] = "250", ["MANPAGER"] = "cat", ["PAGER"] = "cat" });
        Assert.True(man.ExitCode == 0, man.ToString());
        Assert.Contains("KIRISAME(1)", man.Stdout, StringComparison.Ordinal);
        Assert.Contains("KIRISAME PASSWD", man.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\\[u", man.Stdout, StringComparison.Ordinal); // every escape understood
        Assert.All(options, option => Assert.Contains(option, man.Stdout, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\s+(--[a-z][a-z-]+)", RegexOptions.Multiline)]
    private static partial Regex OptionPattern();
}
