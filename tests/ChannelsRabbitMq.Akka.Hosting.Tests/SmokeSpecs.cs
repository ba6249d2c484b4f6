using Xunit;

namespace ChannelsRabbitMq.Akka.Hosting.Tests;

public sealed class SmokeSpecs
{
    [Fact]
    public void The_project_builds() => Assert.True(true);
}
