using ChannelsRabbitMq.Akka.Wire;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Wire;

public class NamesSpecs
{
    [Theory]
    [InlineData("channels_abcDEF!xyz")]
    [InlineData("channels_abcDEF!")]
    [InlineData("normal.channel-name_1")]
    [InlineData("q!local.part-with_all.chars")]
    [InlineData("q!ünïcödé")] // Python's \w is Unicode-aware after the '!', and so is .NET's
    public void A_channel_name_following_Django_Channels_rules_is_valid(string channel)
    {
        Names.ValidateChannel(channel);
        Assert.True(Names.IsValidChannelName(channel));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("q!a!b")]
    [InlineData("!local")]
    [InlineData("q!has space")]
    [InlineData("ünïcödé!x")]
    [InlineData("q/x")]
    [InlineData("q!x\n")]
    [InlineData("room\n")]
    public void A_channel_name_breaking_Django_Channels_rules_is_refused(string channel)
    {
        var e = Assert.Throws<ArgumentException>(() => Names.ValidateChannel(channel));
        Assert.Equal("channel", e.ParamName);
        Assert.False(Names.IsValidChannelName(channel));
    }

    [Fact]
    public void A_refused_channel_name_is_named_in_the_exception_message()
    {
        var e = Assert.Throws<ArgumentException>(() => Names.ValidateChannel("bad name"));
        Assert.Contains("\"bad name\"", e.Message);
    }

    [Fact]
    public void A_huge_refused_channel_name_is_truncated_in_the_exception_message()
    {
        var huge = new string('x', 100_000);
        var e = Assert.Throws<ArgumentException>(() => Names.ValidateChannel(huge));
        Assert.True(e.Message.Length < 1000, e.Message.Length.ToString());
        Assert.Contains("100000 characters", e.Message);
    }

    [Fact]
    public void A_null_channel_name_is_refused_with_ArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => Names.ValidateChannel(null!));
    }

    [Fact]
    public void A_channel_name_of_99_characters_is_valid()
    {
        Names.ValidateChannel("q!" + new string('a', 97));
    }

    [Fact]
    public void A_channel_name_of_100_characters_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Names.ValidateChannel("q!" + new string('a', 98)));
    }

    [Theory]
    [InlineData("room")]
    [InlineData("chat.room-1_A")]
    [InlineData("0")]
    public void A_group_name_following_Django_Channels_rules_is_valid(string group)
    {
        Names.ValidateGroup(group);
        Assert.True(Names.IsValidGroupName(group));
    }

    [Theory]
    [InlineData("")]
    [InlineData("room!x")]
    [InlineData("room 1")]
    [InlineData("room\n")]
    [InlineData("ünïcödé")]
    [InlineData("a/b")]
    public void A_group_name_breaking_Django_Channels_rules_is_refused(string group)
    {
        var e = Assert.Throws<ArgumentException>(() => Names.ValidateGroup(group));
        Assert.Equal("group", e.ParamName);
        Assert.False(Names.IsValidGroupName(group));
    }

    [Fact]
    public void A_group_name_of_99_characters_is_valid()
    {
        Names.ValidateGroup(new string('g', 99));
    }

    [Fact]
    public void A_group_name_of_100_characters_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Names.ValidateGroup(new string('g', 100)));
    }

    [Fact]
    public void A_refused_group_name_is_named_in_the_exception_message()
    {
        var e = Assert.Throws<ArgumentException>(() => Names.ValidateGroup("no!bang"));
        Assert.Contains("\"no!bang\"", e.Message);
    }

    [Theory]
    [InlineData("channels_abcdefghijkl", true)]
    [InlineData("my-queue.1", true)]
    [InlineData("", false)]
    [InlineData("q!x", false)]
    [InlineData("has space", false)]
    public void A_queue_name_follows_the_group_rule(string queue, bool valid)
    {
        Assert.Equal(valid, Names.IsValidQueueName(queue));
    }

    [Fact]
    public void A_queue_name_of_100_characters_is_refused()
    {
        Assert.True(Names.IsValidQueueName(new string('q', 99)));
        Assert.False(Names.IsValidQueueName(new string('q', 100)));
    }

    [Fact]
    public void A_channel_with_a_bang_is_process_specific_and_its_queue_is_the_part_before_it()
    {
        Assert.True(Names.IsProcessSpecific("channels_abc!local"));
        Assert.Equal("channels_abc", Names.QueueOf("channels_abc!local"));
        Assert.Equal("channels_abc", Names.QueueOf("channels_abc!"));
    }

    [Fact]
    public void A_channel_without_a_bang_is_a_normal_channel_whose_queue_is_the_whole_name()
    {
        Assert.False(Names.IsProcessSpecific("normal.channel"));
        Assert.Equal("normal.channel", Names.QueueOf("normal.channel"));
    }

    [Fact]
    public void A_new_queue_name_is_channels_and_12_random_ascii_letters()
    {
        var name = Names.NewQueueName();
        Assert.Matches("^channels_[a-zA-Z]{12}$", name);
        Assert.True(Names.IsValidQueueName(name));
    }

    [Fact]
    public void New_queue_names_are_random()
    {
        var names = new HashSet<string>();
        for (int i = 0; i < 1000; i++) names.Add(Names.NewQueueName());
        Assert.Equal(1000, names.Count);
    }

    [Fact]
    public void A_new_channel_name_without_prefix_is_the_queue_a_bang_and_12_random_letters_as_channels_rabbitmq_4()
    {
        var name = Names.NewChannelName("channels_abcdefghijkl");
        Assert.Matches("^channels_abcdefghijkl![a-zA-Z]{12}$", name);
        Names.ValidateChannel(name);
    }

    [Fact]
    public void A_new_channel_name_with_a_prefix_puts_the_prefix_and_a_dot_before_the_random_part()
    {
        var name = Names.NewChannelName("q", "specific");
        Assert.Matches("^q!specific\\.[a-zA-Z]{12}$", name);
        Names.ValidateChannel(name);
    }

    [Fact]
    public void A_new_channel_name_does_not_double_the_dot_of_a_prefix_ending_with_one()
    {
        var name = Names.NewChannelName("q", "specific.");
        Assert.Matches("^q!specific\\.[a-zA-Z]{12}$", name);
    }

    [Fact]
    public void New_channel_names_are_random()
    {
        var names = new HashSet<string>();
        for (int i = 0; i < 1000; i++) names.Add(Names.NewChannelName("q", "p"));
        Assert.Equal(1000, names.Count);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("bang!")]
    [InlineData("slash/")]
    public void A_new_channel_name_with_an_invalid_prefix_is_refused(string prefix)
    {
        var e = Assert.Throws<ArgumentException>(() => Names.NewChannelName("q", prefix));
        Assert.Equal("prefix", e.ParamName);
    }

    [Fact]
    public void A_new_channel_name_that_would_reach_100_characters_is_refused()
    {
        var queue = Names.NewQueueName(); // 21 characters
        Names.NewChannelName(queue, new string('p', 99 - 21 - 1 - 1 - 12)); // exactly 99
        var e = Assert.Throws<ArgumentException>(() => Names.NewChannelName(queue, new string('p', 99 - 21 - 1 - 1 - 12 + 1)));
        Assert.Equal("prefix", e.ParamName);
    }

    [Fact]
    public void A_new_channel_name_on_an_invalid_queue_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Names.NewChannelName("q!x"));
        Assert.Equal("queue", e.ParamName);
    }
}
