using System.Net;
using System.Net.Http.Json;
using OpenQA.Selenium;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary>The demo as a person sees it: two browsers on two servers, in one room.</summary>
[Collection(TwoServersCollection.Name)]
public sealed class BrowserSpecs(TwoServers servers, ITestOutputHelper output)
{
    /// <summary>Where the screenshots go: <c>screenshots/</c> in the test output folder.</summary>
    public static string ScreenshotFolder => Path.Combine(AppContext.BaseDirectory, "screenshots");

    [Fact]
    public async Task A_message_typed_on_one_servers_page_appears_on_the_others()
    {
        var room = "e2e-" + Guid.NewGuid().ToString("N")[..8];
        using var ann = Browser.Start();
        using var bob = Browser.Start();
        ann.Open(new Uri(servers.Alpha.Url, $"?room={room}&user=ann"));
        bob.Open(new Uri(servers.Bravo.Url, $"?room={room}&user=bob"));
        Assert.Equal("alpha", WaitUntilJoined(ann));
        Assert.Equal("bravo", WaitUntilJoined(bob));
        // Bob's page also reads the room as server-sent events (GET /rooms/{room}/events).
        ReadEvents(bob, room);

        Say(ann, "Hello from the page on alpha");
        var onBob = WaitForMessage(bob, "Hello from the page on alpha");
        Assert.Equal(("alpha", "ann"), onBob);
        Assert.Equal(("alpha", "ann"), WaitForMessage(ann, "Hello from the page on alpha"));

        Say(bob, "And hello back from bravo");
        Assert.Equal(("bravo", "bob"), WaitForMessage(ann, "And hello back from bravo"));
        Assert.Equal(("bravo", "bob"), WaitForMessage(bob, "And hello back from bravo"));

        // The HTTP endpoint of either server reaches both pages too.
        using var http = new HttpClient { Timeout = Eventually.Timeout };
        var response = await http.PostAsJsonAsync(new Uri(servers.Alpha.Url, $"rooms/{room}/messages"), new { text = "Deploy finished (POST /rooms/…/messages)", user = "ci" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(("alpha", "ci"), WaitForMessage(bob, "Deploy finished (POST /rooms/…/messages)"));
        Assert.Equal(("alpha", "ci"), WaitForMessage(ann, "Deploy finished (POST /rooms/…/messages)"));

        // Same messages, same order, on both pages, and in the page's event stream.
        Assert.Equal(Messages(ann), Messages(bob));
        Assert.Equal(Messages(bob), WaitForEvents(bob, Messages(bob).Length));

        var shot = Path.Combine(ScreenshotFolder, "demo-bravo.png");
        bob.SaveScreenshot(shot);
        ann.SaveScreenshot(Path.Combine(ScreenshotFolder, "demo-alpha.png"));
        Assert.True(new FileInfo(shot).Length > 1000, "the screenshot is not empty");

        // Both pages side by side (docs/images/demo.png is a copy of this one).
        var sideBySide = Path.Combine(ScreenshotFolder, "demo.html");
        File.WriteAllText(sideBySide, $"""
            <!doctype html><meta charset="utf-8">
            <body style="margin:0;padding:10px;background:#c9ced8;font:14px system-ui,sans-serif;display:flex;gap:10px">
            <figure style="margin:0"><figcaption>{servers.Alpha.Url} (alpha)</figcaption><img src="demo-alpha.png" style="border:1px solid #888"></figure>
            <figure style="margin:0"><figcaption>{servers.Bravo.Url} (bravo)</figcaption><img src="demo-bravo.png" style="border:1px solid #888"></figure>
            </body>
            """);
        ann.Driver.Manage().Window.Size = new System.Drawing.Size(1850, 700);
        ann.Open(new Uri(sideBySide));
        ann.WaitUntil(
            d => ((IJavaScriptExecutor)d).ExecuteScript("return [...document.images].every(i => i.complete && i.naturalWidth > 0)") is true,
            "both screenshots are shown");
        ann.SaveScreenshot(Path.Combine(ScreenshotFolder, "demo.png"));
        output.WriteLine($"screenshots: {ScreenshotFolder}");
    }

    // Waits for the page to say it has joined its room; returns the server it is on.
    private static string WaitUntilJoined(Browser browser)
    {
        browser.WaitUntil(d => d.FindElement(By.Id("status")).GetDomAttribute("data-state") == "joined", "the page has joined its room");
        return browser.Driver.FindElement(By.Id("server")).Text;
    }

    // Opens an EventSource on the page's own server and waits until it has joined the room.
    private static void ReadEvents(Browser browser, string room)
    {
        ((IJavaScriptExecutor)browser.Driver).ExecuteScript("""
            window.sseTexts = [];
            const events = new EventSource('/rooms/' + arguments[0] + '/events');
            events.addEventListener('joined', () => window.sseJoined = true);
            events.addEventListener('message', e => window.sseTexts.push(JSON.parse(e.data).text));
            """, room);
        browser.WaitUntil(d => ((IJavaScriptExecutor)d).ExecuteScript("return window.sseJoined === true") is true, "the event stream has joined the room");
    }

    // The texts the page's event stream received, once there are at least this many.
    private static string[] WaitForEvents(Browser browser, int count)
    {
        browser.WaitUntil(d => ((IJavaScriptExecutor)d).ExecuteScript("return window.sseTexts.length") is long n && n >= count,
            $"{count} messages arrived as server-sent events");
        var texts = ((IJavaScriptExecutor)browser.Driver).ExecuteScript("return window.sseTexts") as IReadOnlyCollection<object>;
        return texts!.Cast<string>().ToArray();
    }

    private static void Say(Browser browser, string text)
    {
        var input = browser.Driver.FindElement(By.Id("text"));
        input.SendKeys(text);
        input.SendKeys(Keys.Enter);
    }

    // Waits for a message with this text; returns the server it came through and its author.
    private static (string Server, string User) WaitForMessage(Browser browser, string text)
    {
        var line = browser.WaitUntil(
            d => d.FindElements(By.CssSelector("#messages li.message")).FirstOrDefault(li => li.FindElement(By.ClassName("text")).Text == text),
            $"the message \"{text}\" is shown");
        return (line.GetDomAttribute("data-server") ?? "", line.FindElement(By.ClassName("user")).Text);
    }

    private static string[] Messages(Browser browser) =>
        browser.Driver.FindElements(By.CssSelector("#messages li.message .text")).Select(e => e.Text).ToArray();
}
