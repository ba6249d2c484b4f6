using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>
/// A headless Chromium session: Debian's <c>/usr/bin/chromium</c> driven through Debian's
/// <c>/usr/bin/chromedriver</c>, with a fresh profile folder (deleted on dispose). Both paths can be
/// overridden with <c>CHANNELS_RABBITMQ_CHROMIUM</c> and <c>CHANNELS_RABBITMQ_CHROMEDRIVER</c>.
/// </summary>
public sealed class Browser : IDisposable
{
    /// <summary>How long a page condition may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly string _profile;

    private Browser(ChromeDriver driver, string profile)
    {
        Driver = driver;
        _profile = profile;
    }

    /// <summary>The WebDriver session.</summary>
    public ChromeDriver Driver { get; }

    /// <summary>Chromium's executable.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>ChromeDriver's executable.</summary>
    public static string ChromeDriverPath => Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_CHROMEDRIVER") ?? "/usr/bin/chromedriver";

    /// <summary>
    /// Starts a session. Throws (so the test fails, never skips) when Chromium or ChromeDriver is
    /// missing, saying how to install them.
    /// </summary>
    public static Browser Start()
    {
        foreach (var (path, package) in new[] { (ChromiumPath, "chromium"), (ChromeDriverPath, "chromium-driver") })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException(
                    $"{path} is missing: the browser test needs Debian's chromium and chromium-driver. "
                    + $"`./build.sh test` installs them (scripts/install-browser.sh), or run `apt-get install -y chromium chromium-driver` (missing package: {package}).");
            }
        }

        var profile = Directory.CreateTempSubdirectory("chat-e2e-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--window-size=900,640");
        // Explicit driver and browser paths: Selenium Manager (which would download them) never runs.
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriverPath)!, Path.GetFileName(ChromeDriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        try
        {
            return new Browser(new ChromeDriver(service, options, TimeSpan.FromSeconds(60)), profile);
        }
        catch
        {
            service.Dispose();
            TryDelete(profile);
            throw;
        }
    }

    /// <summary>Opens <paramref name="url"/>.</summary>
    public void Open(Uri url) => Driver.Navigate().GoToUrl(url);

    /// <summary>Waits until <paramref name="condition"/> holds; fails after <see cref="Timeout"/>.</summary>
    public void WaitUntil(Func<IWebDriver, bool> condition, string what) => Wait(what).Until(condition);

    /// <summary>Waits until <paramref name="condition"/> returns an object; fails after <see cref="Timeout"/>.</summary>
    public T WaitUntil<T>(Func<IWebDriver, T?> condition, string what)
        where T : class => Wait(what).Until(condition)!;

    private WebDriverWait Wait(string what)
    {
        var wait = new WebDriverWait(Driver, Timeout)
        {
            PollingInterval = TimeSpan.FromMilliseconds(50),
            Message = $"waiting until {what} on {Driver.Url}",
        };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        return wait;
    }

    /// <summary>Saves a PNG screenshot of the page.</summary>
    public void SaveScreenshot(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Driver.GetScreenshot().SaveAsFile(path);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            TryDelete(_profile);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
