using System.Diagnostics;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Kirisame.Interop.Tests.WebConsole;

/// Debian's chromium, headless, driven through Debian's chromedriver (packages chromium and chromium-driver;
/// scripts/test.sh installs them). Nothing is downloaded: the driver's path is given, so Selenium Manager is
/// never asked for one. Waits poll with a deadline; screenshots go to <see cref="ScreenshotFolder"/>.
internal sealed class ConsoleBrowser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string ChromeDriverPath = "/usr/bin/chromedriver";

    /// Where screenshots are saved: KIRISAME_CONSOLE_SCREENSHOTS (e.g. docs/console to refresh the README's),
    /// else console-screenshots in the test output folder.
    public static string ScreenshotFolder =>
        Environment.GetEnvironmentVariable("KIRISAME_CONSOLE_SCREENSHOTS") is { Length: > 0 } folder
            ? Path.GetFullPath(folder)
            : Path.Combine(AppContext.BaseDirectory, "console-screenshots");

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly ChromeDriver _driver;

    public ConsoleBrowser()
    {
        foreach (var path in new[] { ChromiumPath, ChromeDriverPath })
        {
            if (!File.Exists(path))
                throw new InvalidOperationException($"{path} is missing: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; scripts/test.sh does).");
        }

        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--window-size=1280,940", "--force-device-scale-factor=1", "--hide-scrollbars", "--lang=en-US",
            "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        if (IsRoot)
            options.AddArgument("--no-sandbox"); // chromium refuses to run as root with its sandbox
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriverPath)!, Path.GetFileName(ChromeDriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        _driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public IWebDriver Driver => _driver;

    private static bool IsRoot =>
        OperatingSystem.IsLinux() && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?
            .Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(2) == "0";

    public void Open(string url) => _driver.Navigate().GoToUrl(url);

    public object? Script(string script, params object[] arguments) => _driver.ExecuteScript(script, arguments);

    /// The first displayed element matching <paramref name="css"/> (and <paramref name="condition"/>).
    public IWebElement Wait(string css, Func<IWebElement, bool>? condition = null, string? what = null)
    {
        IWebElement? found = null;
        Until(() =>
        {
            found = _driver.FindElements(By.CssSelector(css)).FirstOrDefault(e => e.Displayed && (condition?.Invoke(e) ?? true));
            return found is not null;
        }, what ?? css);
        return found!;
    }

    /// Waits until <paramref name="condition"/> holds, retrying when the page replaced an element meanwhile.
    public void Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (condition())
                    return;
            }
            catch (Exception ex) when (ex is StaleElementReferenceException or NoSuchElementException)
            {
                // the page redrew; ask again
            }

            if (clock.Elapsed > Timeout)
                throw new TimeoutException($"Waited {Timeout.TotalSeconds} s for {what} at {_driver.Url}.\nPage text:\n{PageText()}");
            Thread.Sleep(50);
        }
    }

    public void WaitGone(string css, string what) =>
        Until(() => !_driver.FindElements(By.CssSelector(css)).Any(e => e.Displayed), what);

    public void Click(string css, Func<IWebElement, bool>? condition = null) =>
        Until(() =>
        {
            var element = Wait(css, e => e.Enabled && (condition?.Invoke(e) ?? true), $"{css} to be enabled");
            element.Click();
            return true;
        }, $"a click on {css}");

    public void Type(string css, string text)
    {
        var element = Wait(css);
        element.Clear();
        element.SendKeys(text);
    }

    public string PageText()
    {
        try
        {
            return _driver.FindElement(By.TagName("body")).Text;
        }
        catch (WebDriverException ex)
        {
            return $"(no page text: {ex.Message})";
        }
    }

    /// What the page reported as errors since the last call: exceptions, Content-Security-Policy violations.
    /// Answers of the API with a 4xx status (a refused login, say) are the page's business and left out.
    public IReadOnlyList<string> TakeErrors() =>
        [.. _driver.Manage().Logs.GetLog(LogType.Browser)
            .Where(e => e.Level == LogLevel.Severe
                && !System.Text.RegularExpressions.Regex.IsMatch(e.Message, "Failed to load resource: the server responded with a status of 4[0-9][0-9]"))
            .Select(e => e.Message)];

    /// Saves the window as NAME.png; returns its path.
    public string Screenshot(string name)
    {
        Directory.CreateDirectory(ScreenshotFolder);
        var path = Path.Combine(ScreenshotFolder, name + ".png");
        Script("window.scrollTo(0, 0)");
        _driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        _driver.Quit();
        _driver.Dispose();
    }
}
