using System.Diagnostics;
using System.Text;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

/// <summary>
/// Runs a script with a real CPython and its msgpack package (Debian's <c>/usr/bin/python3</c>
/// with <c>python3-msgpack</c>, or the interpreter named by <c>CHANNELS_RABBITMQ_PYTHON</c>).
/// A missing interpreter or package fails the test with a clear message: it is never skipped.
/// </summary>
internal static class PythonMsgpack
{
    public const string EnvironmentVariable = "CHANNELS_RABBITMQ_PYTHON";

    private static readonly Lazy<string> Interpreter = new(FindInterpreter);

    public static string Path => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } path ? path : "/usr/bin/python3";

    /// <summary>Runs <paramref name="script"/> with <paramref name="stdin"/> and returns its standard output, trimmed.</summary>
    public static string Run(string script, string stdin = "")
    {
        var (exitCode, stdout, stderr) = Execute(Interpreter.Value, script, stdin);
        if (exitCode != 0)
            throw new InvalidOperationException($"The Python script failed (exit code {exitCode}):\n{stderr}\nScript:\n{script}");
        return stdout.Trim();
    }

    private static string FindInterpreter()
    {
        var path = Path;
        (int ExitCode, string Stdout, string Stderr) result;
        try
        {
            result = Execute(path, "import msgpack, sys; print(msgpack.version, sys.version_info[:2])", "");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The Python interop tests need {path} (set {EnvironmentVariable} to another interpreter); it could not be started: {e.Message}. "
                + "On Debian: apt-get install -y python3 python3-msgpack.", e);
        }
        if (result.ExitCode != 0)
            throw new InvalidOperationException(
                $"The Python interop tests need the msgpack package in {path} (set {EnvironmentVariable} to another interpreter): "
                + $"{result.Stderr.Trim()}. On Debian: apt-get install -y python3-msgpack.");
        return path;
    }

    private static (int ExitCode, string Stdout, string Stderr) Execute(string interpreter, string script, string stdin)
    {
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("-I"); // isolated: no user site-packages, no PYTHON* variables (scripts print ASCII only)
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {interpreter}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{interpreter} did not finish within 60 s.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
