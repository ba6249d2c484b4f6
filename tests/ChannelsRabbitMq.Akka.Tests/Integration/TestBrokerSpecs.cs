using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Integration;

/// <summary>
/// The broker a test pass runs against is the one it names (<see cref="TestBroker.Version"/>),
/// configured as that RabbitMQ ships: the 4.x node refuses what RabbitMQ 4.3 refuses by default.
/// </summary>
[Trait(TestBroker.Trait, TestBroker.RabbitMq)]
public sealed class TestBrokerSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<IConnection> ConnectAsync() =>
        new ConnectionFactory { Uri = new Uri(TestBroker.Url) }.CreateConnectionAsync().WaitAsync(Timeout);

    [Fact]
    public async Task The_broker_runs_the_RabbitMQ_major_version_the_pass_names()
    {
        await using var connection = await ConnectAsync();

        var version = Encoding.UTF8.GetString((byte[])connection.ServerProperties!["version"]!);

        Assert.StartsWith(TestBroker.Version == "4" ? "4." : "3.", version, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transient_non_exclusive_queue_is_refused_by_the_4x_broker_only()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync().WaitAsync(Timeout);
        var queue = "test-broker-probe-" + Guid.NewGuid().ToString("N");

        var declare = () => channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false).WaitAsync(Timeout);

        if (TestBroker.Version == "4")
        {
            var refused = await Assert.ThrowsAnyAsync<OperationInterruptedException>(declare);
            Assert.Equal((ushort)541, refused.ShutdownReason?.ReplyCode);
            Assert.Contains("transient_nonexcl_queues", refused.ShutdownReason?.ReplyText, StringComparison.Ordinal);
        }
        else
        {
            await declare();
            await channel.QueueDeleteAsync(queue).WaitAsync(Timeout);
        }
    }
}
