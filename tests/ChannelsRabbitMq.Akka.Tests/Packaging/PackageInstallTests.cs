using System.IO.Compression;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Packaging;

/// <summary>
/// Runs alone, after the parallel collections: packing compiles the libraries, and a busy CPU
/// would make the timing-sensitive specs of the other collections flaky.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection : ICollectionFixture<PackedPackages>
{
    public const string Name = "Packaging";
}

/// <summary>
/// What a user gets from NuGet: the packages' contents, and a throwaway console project outside
/// the solution that installs them from a local folder feed (plus nuget.org for their
/// dependencies) and sends and receives through the test broker. The packages are packed once
/// per run (<see cref="PackedPackages"/>) with a unique prerelease version.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class PackageInstallTests(PackedPackages packages, ITestOutputHelper output)
{
    [Fact]
    public void Every_package_carries_metadata_readme_xml_docs_and_symbols()
    {
        foreach (var id in PackedPackages.Ids)
        {
            using var nupkg = ZipFile.OpenRead(packages.NupkgPath(id));
            var entries = nupkg.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
            Assert.Contains("README.md", entries);

            XNamespace ns = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";
            var metadata = XDocument.Load(nupkg.GetEntry($"{id}.nuspec")!.Open()).Root!.Element(ns + "metadata")!;
            string? Meta(string name) => metadata.Element(ns + name)?.Value;
            Assert.Equal(id, Meta("id"));
            Assert.Equal(packages.Version, Meta("version"));
            Assert.Equal("MIT", Meta("license"));
            Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")?.Value);
            Assert.Equal("README.md", Meta("readme"));
            Assert.False(string.IsNullOrWhiteSpace(Meta("description")));
            Assert.StartsWith("https://", metadata.Element(ns + "repository")?.Attribute("url")?.Value);
            var tags = (Meta("tags") ?? "").Split(' ');
            foreach (var tag in new[] { "akka", "rabbitmq", "channels", "django-channels", "websocket", "asgi", "msgpack" })
                Assert.Contains(tag, tags);
            var dependencies = metadata.Descendants(ns + "dependency").ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value);
            if (id != "ChannelsRabbitMq.Akka")
                Assert.Equal(packages.Version, dependencies["ChannelsRabbitMq.Akka"]);

            // Every public member is documented (CS1591 is an error), so the file is far from empty.
            var smallest = id is "ChannelsRabbitMq.Akka.Streams" or "ChannelsRabbitMq.Akka.OpenTelemetry" ? 3 : 20; // small packages
            using (var reader = new StreamReader(nupkg.GetEntry($"lib/net10.0/{id}.xml")!.Open()))
                Assert.True(XDocument.Parse(reader.ReadToEnd()).Descendants("member").Count() > smallest, $"{id}.xml documents almost nothing");

            using var snupkg = ZipFile.OpenRead(Path.ChangeExtension(packages.NupkgPath(id), ".snupkg"));
            Assert.Contains($"lib/net10.0/{id}.pdb", snupkg.Entries.Select(e => e.FullName));
        }
    }

    [Fact]
    public void The_core_package_depends_on_no_hosting_packages()
    {
        using var nupkg = ZipFile.OpenRead(packages.NupkgPath("ChannelsRabbitMq.Akka"));
        XNamespace ns = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";
        var dependencies = XDocument.Load(nupkg.GetEntry("ChannelsRabbitMq.Akka.nuspec")!.Open()).Descendants(ns + "dependency")
            .Select(d => d.Attribute("id")!.Value).ToList();

        Assert.Contains("Akka", dependencies);
        Assert.DoesNotContain(dependencies, d => d.StartsWith("Akka.Hosting", StringComparison.Ordinal) || d.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_aspnetcore_app_installs_the_packages_binds_every_option_from_appsettings_and_sends_and_receives_through_the_broker()
    {
        var app = Path.Combine(packages.Root, "app");
        Directory.CreateDirectory(app);
        // Stop MSBuild's search for Directory.Build.* / Directory.Packages.props above the temp dir.
        File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "NuGet.config"), packages.NuGetConfig());
        File.WriteAllText(Path.Combine(app, "PackageUser.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <!-- Advisories published later must not fail this test; the repository's own build audits. -->
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ChannelsRabbitMq.Akka.Hosting" Version="{packages.Version}" />
                <PackageReference Include="ChannelsRabbitMq.Akka.TestKit" Version="{packages.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), AppSource);
        File.WriteAllText(Path.Combine(app, "appsettings.json"), AppSettings());

        var build = await Dotnet.RunAsync(app, TimeSpan.FromMinutes(4),
            "build", "-c", "Release", "--disable-build-servers", "-nodeReuse:false", "-v:m");
        output.WriteLine(build.Output);
        Assert.True(build.ExitCode == 0, $"restore/build of the console app failed ({build.ExitCode}):\n{build.Output}");

        // The app's ChannelsRabbitMq assemblies come from the packed packages, nowhere else (the
        // packages it references and their dependency, the core one).
        foreach (var id in new[] { "ChannelsRabbitMq.Akka", "ChannelsRabbitMq.Akka.Hosting", "ChannelsRabbitMq.Akka.TestKit" })
            Assert.True(File.Exists(Path.Combine(packages.PackagesFolder, id.ToLowerInvariant(), packages.Version.ToLowerInvariant(), $"{id.ToLowerInvariant()}.nuspec")),
                $"{id} {packages.Version} was not restored from the local feed");

        var run = await Dotnet.RunAsync(app, TimeSpan.FromMinutes(1),
            "exec", Path.Combine(app, "bin", "Release", "net10.0", "PackageUser.dll"), "--contentRoot", Path.Combine(app, "bin", "Release", "net10.0"));
        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"the console app failed ({run.ExitCode}):\n{run.Output}");
        // Every option came from appsettings.json (the app prints the bound options).
        foreach (var bound in new[]
                 {
                     "Expiry = 00:02:00", "LocalCapacity = 50", "LocalExpiry = 00:00:30", "RemoteCapacity = 200", "GroupsExchange = groups",
                     "QueueName = channels_pkgtest", "ReconnectDelay = 00:00:00.5000000", "MaxReconnectDelay = 00:00:05", "ConnectTimeout = 00:00:20",
                     "QueueMode = Exclusive", "QueueGracePeriod = 00:00:15", "MaxMessageSize = 1048576", "CaCertificatePath = /", "ClientCertificatePath = /",
                     "ClientCertificatePassword = ***", "ServerName = localhost", "Host = amqps://",
                 })
            Assert.Contains(bound, run.Output);
        Assert.Contains("group message: hello from a package", run.Output);
        Assert.Contains("direct message through a keyed endpoint: 42", run.Output);
        Assert.Contains("in-memory message: pong", run.Output);
    }

    /// <summary>
    /// tests/ChannelsRabbitMq.Akka.TestKit.UserView — an application's Akka.TestKit specs of its own
    /// actor over the in-memory layer (fan-out, outage and recovery, back-pressure, an Ask from a
    /// handler) — restored from the packed packages and run, as a user's test project would be.
    /// </summary>
    [Fact]
    public async Task The_user_view_test_project_passes_on_the_packed_packages()
    {
        var source = Path.Combine(TestBroker.RepoRoot, "tests", "ChannelsRabbitMq.Akka.TestKit.UserView");
        var project = Path.Combine(packages.Root, "userview");
        Directory.CreateDirectory(project);
        foreach (var file in Directory.GetFiles(source)) // its own Directory.* files stop MSBuild's search upwards
            File.Copy(file, Path.Combine(project, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(project, "NuGet.config"), packages.NuGetConfig());

        var test = await Dotnet.RunAsync(project, TimeSpan.FromMinutes(5),
            "test", "-c", "Release", $"-p:ChannelsRabbitMqVersion={packages.Version}",
            "--disable-build-servers", "-nodeReuse:false", "-v:m");
        output.WriteLine(test.Output);

        Assert.True(test.ExitCode == 0, $"the user-view tests failed ({test.ExitCode}):\n{test.Output}");
        Assert.Matches(@"Passed!\s+-\s+Failed:\s+0, Passed:\s+[1-9]", test.Output);
        foreach (var id in new[] { "ChannelsRabbitMq.Akka", "ChannelsRabbitMq.Akka.TestKit" }) // what it references
            Assert.True(File.Exists(Path.Combine(packages.PackagesFolder, id.ToLowerInvariant(), packages.Version.ToLowerInvariant(), $"{id.ToLowerInvariant()}.nuspec")),
                $"{id} {packages.Version} was not restored from the local feed");
    }

    /// <summary>
    /// The user's appsettings.json: every option of the default layer, on the test broker's TLS
    /// listener. The PKCS#12 client certificate takes a password and no key file, so of the TLS
    /// settings only <c>ClientKeyPath</c> (for a PEM certificate) is not set.
    /// </summary>
    private static string AppSettings() => $$"""
        {
          "ChannelLayers": {
            "default": {
              "Host": {{Json(TestBroker.TlsUrl)}},
              "Expiry": "00:02:00",
              "LocalCapacity": 50,
              "LocalExpiry": "30",
              "RemoteCapacity": 200,
              "GroupsExchange": "groups",
              "QueueName": "channels_pkgtest{{Guid.NewGuid().ToString("N")[..8]}}",
              "ReconnectDelay": "0.5",
              "MaxReconnectDelay": "5",
              "ConnectTimeout": "00:00:20",
              "MaxMessageSize": 1048576,
              "QueueMode": "Exclusive",
              "QueueGracePeriod": "15",
              "Tls": {
                "CaCertificatePath": {{Json(TestBroker.Ssl("ca.pem"))}},
                "ClientCertificatePath": {{Json(TestBroker.Ssl("client.p12"))}},
                "ClientCertificatePassword": "changeit",
                "ServerName": "localhost"
              }
            }
          },
          "Logging": { "LogLevel": { "Default": "Warning" } }
        }
        """;

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    /// <summary>
    /// The user's Program.cs: the one-call wiring of docs/hosting.md in an ASP.NET Core app, the
    /// layer resolved by its key and injected into an endpoint by its key, then the TestKit's
    /// in-memory layer.
    /// </summary>
    private const string AppSource = """
        using Akka.Actor;
        using Akka.Hosting;
        using ChannelsRabbitMq.Akka;
        using ChannelsRabbitMq.Akka.Hosting;
        using ChannelsRabbitMq.Akka.TestKit;
        using Microsoft.Extensions.Options;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;

        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAkka("package-user", akka => akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        }));
        builder.Services.AddRabbitMqChannelLayer(builder.Configuration.GetSection("ChannelLayers:default"));
        var app = builder.Build();
        app.MapPost("/channels/{channel}", async (string channel, [FromKeyedServices("default")] IChannelLayer layer) =>
        {
            await layer.SendAsync(channel, new Dictionary<string, object?> { ["type"] = "number", ["n"] = 42 });
            return Results.Accepted();
        });
        await app.StartAsync(ct);
        Console.WriteLine(app.Services.GetRequiredService<IOptionsMonitor<RabbitMqChannelLayerOptions>>().Get("default"));

        var layer = app.Services.GetRequiredKeyedService<IChannelLayer>("default");
        var channel = await layer.NewChannelAsync(cancellationToken: ct);
        var group = "package-user-" + Guid.NewGuid().ToString("N");
        await layer.GroupAddAsync(group, channel, ct);
        await layer.GroupSendAsync(group, new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hello from a package" }, ct);
        var received = await layer.ReceiveAsync(channel, ct);
        Console.WriteLine($"group message: {received["text"]}");
        await layer.GroupDiscardAsync(group, channel, ct);

        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        (await http.PostAsync($"/channels/{Uri.EscapeDataString(channel)}", null, ct)).EnsureSuccessStatusCode();
        received = await layer.ReceiveAsync(channel, ct);
        Console.WriteLine($"direct message through a keyed endpoint: {received["n"]}");

        var broker = new InMemoryBroker();
        await using (var memory = broker.CreateLayer(app.Services.GetRequiredService<ActorSystem>()))
        {
            var mine = await memory.NewChannelAsync(cancellationToken: ct);
            await memory.SendAsync(mine, new Dictionary<string, object?> { ["type"] = "ping", ["text"] = "pong" }, ct);
            received = await memory.ReceiveAsync(mine, ct);
            Console.WriteLine($"in-memory message: {received["text"]}");
        }

        await app.StopAsync(ct);
        return 0;
        """;
}

/// <summary>
/// Packs the packages once per test run, from the repository's sources, into a local folder
/// feed under a fresh temp directory, with a unique prerelease version (so no package cache can
/// hold a stale copy). The build goes to its own artifacts folder there: the repository's
/// bin/obj, which other builds may be using, stay untouched. NuGet restores into
/// <see cref="PackagesFolder"/> (also there), reading the user's global packages folder only as a
/// read-only fallback, so the global cache is never written. The directory is deleted afterwards
/// (kept when <c>KEEP_PACKAGE_TEST_DIR=1</c>).
/// </summary>
public sealed class PackedPackages : IAsyncLifetime
{
    public static readonly string[] Ids = ["ChannelsRabbitMq.Akka", "ChannelsRabbitMq.Akka.Hosting", "ChannelsRabbitMq.Akka.TestKit", "ChannelsRabbitMq.Akka.Streams", "ChannelsRabbitMq.Akka.OpenTelemetry"];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "channels-rabbitmq-package-test-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>0.1.0-pkgtest-{unique}: the repository's version with a run-unique prerelease suffix.</summary>
    public string Version { get; private set; } = "";

    public string Feed => Path.Combine(Root, "feed");

    public string PackagesFolder => Path.Combine(Root, "packages");

    public string NupkgPath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Feed);
        var suffix = "pkgtest-" + Guid.NewGuid().ToString("N")[..12];
        foreach (var id in Ids)
        {
            var pack = await Dotnet.RunAsync(TestBroker.RepoRoot, TimeSpan.FromMinutes(4),
                "pack", Path.Combine("src", id, id + ".csproj"), "-c", "Release", "-o", Feed,
                "--artifacts-path", Path.Combine(Root, "build"), "--version-suffix", suffix,
                "--disable-build-servers", "-nodeReuse:false", "-v:m");
            if (pack.ExitCode != 0) throw new InvalidOperationException($"dotnet pack {id} failed ({pack.ExitCode}):\n{pack.Output}");
        }
        var nupkg = Directory.GetFiles(Feed, "ChannelsRabbitMq.Akka.0*.nupkg").Single();
        Version = Path.GetFileNameWithoutExtension(nupkg)["ChannelsRabbitMq.Akka.".Length..];
        if (!Version.EndsWith(suffix, StringComparison.Ordinal)) throw new InvalidOperationException($"Unexpected package {nupkg}.");
    }

    /// <summary>The console project's own NuGet.config: the local feed (for our packages only) and nuget.org.</summary>
    public string NuGetConfig()
    {
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } g
            ? g
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var fallback = Directory.Exists(global) ? $"""<add key="global-packages" value="{global}" />""" : "";
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{PackagesFolder}" />
              </config>
              <packageSources>
                <clear />
                <add key="local" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="ChannelsRabbitMq.Akka" />
                  <package pattern="ChannelsRabbitMq.Akka.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
              <fallbackPackageFolders>
                <clear />
                {fallback}
              </fallbackPackageFolders>
            </configuration>
            """;
    }

    public Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("KEEP_PACKAGE_TEST_DIR") is not ("1" or "true"))
        {
            try { Directory.Delete(Root, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return Task.CompletedTask;
    }
}

/// <summary>Runs the dotnet CLI as a child process, with its output captured and a time limit.</summary>
internal static class Dotnet
{
    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // What `dotnet test` puts in the environment for its own MSBuild must not steer the child's.
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(name);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["CHANNELS_RABBITMQ_TEST_URL"] = TestBroker.Url;

        var output = new System.Text.StringBuilder();
        using var process = new System.Diagnostics.Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        var started = DateTime.UtcNow;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output) return new Result(-1, $"$ dotnet {string.Join(' ', args)}\n{output}\n(killed after {timeout.TotalSeconds:0} s)");
        }
        lock (output)
            return new Result(process.ExitCode, $"$ dotnet {string.Join(' ', args)}   ({(DateTime.UtcNow - started).TotalSeconds:0.0} s)\n{output}");
    }
}
