namespace ChannelsRabbitMq.Akka.Wire;

/// <summary>Channel, group and queue name rules (stub: to be completed).</summary>
internal static class Names
{
    public static bool IsValidQueueName(string name) => true;
}
