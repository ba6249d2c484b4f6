using System.Diagnostics;

namespace ChannelsRabbitMq.Akka.TestKit;

/// <summary>Closes RabbitMQ connections from the broker's side with <c>rabbitmqctl</c>.</summary>
internal static class RabbitMqCtl
{
    /// <summary>
    /// Closes every open connection whose client-provided name is <paramref name="connectionName"/>;
    /// returns how many. Throws when the command cannot run or fails.
    /// </summary>
    public static async Task<int> CloseConnectionsAsync(IReadOnlyList<string> command, TimeSpan timeout, string connectionName,
        string reason, CancellationToken cancellationToken)
    {
        var listing = await RunAsync(command, ["list_connections", "pid", "client_properties"], timeout, cancellationToken).ConfigureAwait(false);
        var pids = ConnectionPids(listing, connectionName);
        foreach (var pid in pids)
            await RunAsync(command, ["close_connection", pid, reason], timeout, cancellationToken).ConfigureAwait(false);
        return pids.Count;
    }

    /// <summary>
    /// The pids in a <c>list_connections pid client_properties</c> table whose properties hold
    /// <c>{"connection_name","…"}</c>. The table format prints pids that <c>close_connection</c>
    /// accepts (the JSON formatter prints <c>#PID&lt;…&gt;</c>, which it refuses).
    /// </summary>
    internal static IReadOnlyList<string> ConnectionPids(string listing, string connectionName)
    {
        var needle = "{\"connection_name\",\"" + connectionName.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"}";
        var pids = new List<string>();
        foreach (var line in listing.Split('\n'))
        {
            var tab = line.IndexOf('\t');
            if (!line.StartsWith('<') || tab < 0) continue;
            if (line.IndexOf(needle, tab, StringComparison.Ordinal) >= 0) pids.Add(line[..tab]);
        }
        return pids;
    }

    private static async Task<string> RunAsync(IReadOnlyList<string> command, string[] args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {command[0]}.");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // it has exited meanwhile
            }
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{string.Join(' ', command)} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0.#} s.");
        }
        var output = await stdout.ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{string.Join(' ', command)} {args[0]} failed (exit code {process.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()}");
        return output;
    }
}
