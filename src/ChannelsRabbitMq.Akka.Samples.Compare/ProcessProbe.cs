using System.Globalization;
using System.Runtime.InteropServices;

namespace ChannelsRabbitMq.Akka.Samples.Compare;

/// <summary>What Linux says about a process (from /proc), and the signals the fault round sends.</summary>
public static partial class ProcessProbe
{
    private const int SigCont = 18;
    private const int SigStop = 19;
    private const int SigTerm = 15;
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>CPU time (user + system) the process has used so far, or 0 when it is gone.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Resident memory of the process in bytes, or 0 when it is gone.</summary>
    public static long ResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>The sum of <see cref="CpuTime"/> over <paramref name="pids"/>.</summary>
    public static TimeSpan CpuTime(IEnumerable<int> pids) => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + CpuTime(pid));

    /// <summary>The sum of <see cref="ResidentBytes"/> over <paramref name="pids"/>.</summary>
    public static long ResidentBytes(IEnumerable<int> pids) => pids.Sum(ResidentBytes);

    /// <summary>Freezes the process (SIGSTOP): its sockets stay open, nothing runs.</summary>
    public static void Freeze(int pid) => Signal(pid, SigStop);

    /// <summary>Lets a frozen process run again (SIGCONT).</summary>
    public static void Thaw(int pid) => Signal(pid, SigCont);

    /// <summary>Asks the process to stop (SIGTERM).</summary>
    public static void Terminate(int pid) => Signal(pid, SigTerm);

    /// <summary>The 1, 5 and 15 minute load averages, as /proc/loadavg has them.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
