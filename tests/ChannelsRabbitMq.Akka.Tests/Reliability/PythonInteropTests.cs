using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Reliability;

/// <summary>
/// The Python world on the wire, with Debian's python3 (<c>CHANNELS_RABBITMQ_PYTHON</c>) and its
/// python3-kombu, python3-msgpack and python3-pika: a Celery-style kombu producer publishes to a
/// group exactly as the README's recipe does and a .NET consumer actor receives it; a pika
/// consumer bound to a group receives what the .NET layer sends to it. A missing interpreter or
/// package fails the test with the command that installs it.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class PythonInteropTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static string Interpreter =>
        Environment.GetEnvironmentVariable("CHANNELS_RABBITMQ_PYTHON") is { Length: > 0 } path ? path : "/usr/bin/python3";

    /// <summary>README.md, "Python interop": the Celery/kombu recipe, parameterised by argv only.</summary>
    private const string CeleryRecipe = """
        import sys
        import msgpack
        from kombu import Connection, Exchange, Producer

        url, group, text = sys.argv[1], sys.argv[2], sys.argv[3]
        with Connection(url) as conn:
            groups = Exchange("groups", type="direct", durable=False)
            Producer(conn).publish(
                msgpack.packb({"type": "chat.message", "text": text, "__asgi_group__": group}),
                exchange=groups, routing_key=group, content_type="application/msgpack",
                content_encoding="binary", serializer=None,
            )
        print("published")
        """;

    /// <summary>A pika consumer of a group: binds its own queue, says "ready", prints the first message as JSON.</summary>
    private const string PikaGroupConsumer = """
        import json, sys
        import msgpack, pika

        url, group, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        ch.exchange_declare("groups", exchange_type="direct", durable=False, auto_delete=False)
        queue = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(queue, "groups", routing_key=group)
        print("ready", flush=True)
        for method, properties, body in ch.consume(queue, auto_ack=True, inactivity_timeout=timeout):
            if method is None:
                print("timeout", flush=True)
                sys.exit(3)
            message = msgpack.unpackb(body, raw=False)
            shown = {k: ({"bytes": v.hex()} if isinstance(v, bytes) else v) for k, v in message.items()}
            print(json.dumps(shown, sort_keys=True), flush=True)
            break
        conn.close()
        """;

    private static void RequirePython(params string[] modules)
    {
        (int ExitCode, string Stdout, string Stderr) result;
        try
        {
            result = Shell.Run(Interpreter, ["-I", "-c", $"import {string.Join(", ", modules)}"], TimeSpan.FromSeconds(60));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The Python interop tests need {Interpreter} (CHANNELS_RABBITMQ_PYTHON): {e.Message}. On Debian: apt-get install -y python3 python3-kombu python3-msgpack python3-pika (scripts/broker.sh start installs them).", e);
        }
        if (result.ExitCode != 0)
            throw new InvalidOperationException(
                $"The Python interop tests need the modules {string.Join(", ", modules)} in {Interpreter} (CHANNELS_RABBITMQ_PYTHON): {result.Stderr.Trim()}. " +
                "On Debian: apt-get install -y python3-kombu python3-msgpack python3-pika (scripts/broker.sh start installs them).");
    }

    /// <summary>A consumer actor of one group that hands its first message to the test.</summary>
    private sealed class RoomConsumer(IActorChannelLayer layer, string group, TaskCompletionSource<IReadOnlyDictionary<string, object?>> received)
        : ChannelConsumerActor(layer, group)
    {
        public sealed record Ready;

        protected override void OnChannelMessage(IReadOnlyDictionary<string, object?> message) => received.TrySetResult(message);

        // Answered only once the channel is subscribed and the group joined (the base class holds
        // every other message back until then).
        protected override void OnOtherMessage(object message)
        {
            if (message is Ready) Sender.Tell(ChannelName);
            else Unhandled(message);
        }
    }

    [Fact]
    public async Task A_group_message_published_by_kombu_as_the_README_recipe_does_reaches_a_dotnet_consumer_actor()
    {
        RequirePython("kombu", "msgpack");
        await using var akka = new ReliabilitySystem(output);
        var layer = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });
        try
        {
            var group = $"room-{Guid.NewGuid():N}"[..17];
            var received = new TaskCompletionSource<IReadOnlyDictionary<string, object?>>(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = akka.System.ActorOf(Props.Create(() => new RoomConsumer(layer, group, received)));
            await consumer.Ask<string>(new RoomConsumer.Ready(), Timeout);

            var text = "from celery ✓";
            var (code, stdout, stderr) = await Task.Run(() => Shell.Run(Interpreter, ["-I", "-c", CeleryRecipe, TestBroker.Url, group, text], Timeout,
                new Dictionary<string, string> { ["PYTHONIOENCODING"] = "utf-8" }));
            Assert.True(code == 0 && stdout.Trim() == "published", $"the kombu producer failed ({code}):\n{stderr}\n{stdout}");

            var message = await received.Task.WaitAsync(Timeout);
            Assert.Equal("chat.message", message["type"]);
            Assert.Equal(text, message["text"]);
            Assert.False(message.ContainsKey("__asgi_group__"), "the recipient key must not reach the consumer");
            Assert.Equal(2, message.Count);
        }
        finally
        {
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task A_pika_consumer_bound_to_a_group_receives_what_the_dotnet_layer_sends_to_it()
    {
        RequirePython("pika", "msgpack");
        await using var akka = new ReliabilitySystem(output);
        var layer = new RabbitMqChannelLayer(akka.System, new RabbitMqChannelLayerOptions { Host = TestBroker.Url });
        var group = $"py-{Guid.NewGuid():N}"[..15];
        var psi = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { "-I", "-c", PikaGroupConsumer, TestBroker.Url, group, "20" }) psi.ArgumentList.Add(a);
        using var python = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {Interpreter}.");
        var stderr = python.StandardError.ReadToEndAsync();
        async Task<string> StderrAsync()
        {
            if (!python.HasExited) python.Kill(entireProcessTree: true);
            return await stderr.WaitAsync(Timeout);
        }
        try
        {
            var ready = await python.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
            if (ready != "ready") Assert.Fail($"the pika consumer did not get ready: {ready}\n{await StderrAsync()}");

            await layer.GroupSendAsync(group, new Dictionary<string, object?>
            {
                ["type"] = "from.dotnet",
                ["text"] = "héllo",
                ["n"] = 42L,
                ["data"] = new byte[] { 0, 1, 254, 255 },
                ["list"] = new object?[] { 1L, "x", null },
            }).WaitAsync(Timeout);

            var line = await python.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
            if (line is null || !line.StartsWith('{')) Assert.Fail($"the pika consumer printed {line ?? "nothing"}\n{await StderrAsync()}");
            using var json = JsonDocument.Parse(line!);
            var root = json.RootElement;
            Assert.Equal("from.dotnet", root.GetProperty("type").GetString());
            Assert.Equal("héllo", root.GetProperty("text").GetString());
            Assert.Equal(42, root.GetProperty("n").GetInt32());
            Assert.Equal("0001feff", root.GetProperty("data").GetProperty("bytes").GetString()); // msgpack bin → Python bytes
            Assert.Equal(group, root.GetProperty("__asgi_group__").GetString());
            Assert.Equal("[1, \"x\", null]", root.GetProperty("list").GetRawText());
            Assert.True(python.WaitForExit(TimeSpan.FromSeconds(10)), "the pika consumer did not exit");
            Assert.Equal(0, python.ExitCode);
        }
        finally
        {
            if (!python.HasExited) python.Kill(entireProcessTree: true);
            await layer.CloseAsync().WaitAsync(Timeout);
        }
    }
}
