using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

public class ChannelMessageNamingSpecs
{
    [Theory]
    [InlineData(typeof(ChatMessage), "chat.message")]
    [InlineData(typeof(UserJoined), "user.joined")]
    [InlineData(typeof(HTTPRequestReceived), "http.request.received")]
    [InlineData(typeof(Http2Frame), "http2.frame")]
    [InlineData(typeof(Ping), "ping")]
    public void Without_an_attribute_the_type_name_is_the_PascalCase_name_split_into_dotted_lower_case_words(Type type, string expected)
    {
        Assert.Equal(expected, ChannelMessage.TypeOf(type));
    }

    [Fact]
    public void A_generic_type_is_named_without_its_arity_suffix()
    {
        Assert.Equal("envelope", ChannelMessage.TypeOf<Envelope<int>>());
    }

    [Fact]
    public void The_ChannelMessageType_attribute_names_the_type()
    {
        Assert.Equal("chat.message", ChannelMessage.TypeOf<Shout>());
        Assert.Equal("chat.message", ChannelMessage.From(new Shout("hi"))["type"]);
    }

    [Fact]
    public void The_message_map_carries_the_type_name_under_the_type_key()
    {
        var map = ChannelMessage.From(new UserJoined("ann"));

        Assert.Equal("user.joined", map["type"]);
    }

    [Fact]
    public void Property_names_become_snake_case_keys()
    {
        var map = ChannelMessage.From(new ChatMessage("hi", 7));

        Assert.Equal(["type", "text", "user_id"], map.Keys);
        Assert.Equal("hi", map["text"]);
        Assert.Equal(7, map["user_id"]);
    }

    [Fact]
    public void JsonPropertyName_overrides_the_key_in_both_directions()
    {
        var map = ChannelMessage.From(new Renamed("hi", 7));

        Assert.Equal(["type", "msg", "user_id"], map.Keys);
        Assert.Equal(new Renamed("hi", 7), ChannelMessage.To<Renamed>(map));
    }

    [Fact]
    public void JsonIgnore_leaves_a_property_out_of_the_map()
    {
        var map = ChannelMessage.From(new WithIgnoredProperty { Text = "hi", Secret = "s3cret" });

        Assert.Equal(["type", "text"], map.Keys);
    }

    [Fact]
    public void JsonIgnore_leaves_a_property_unset_when_reading_even_if_the_key_is_present()
    {
        var message = new Dictionary<string, object?> { ["type"] = "with.ignored.property", ["text"] = "hi", ["secret"] = "x" };

        var read = ChannelMessage.To<WithIgnoredProperty>(message);

        Assert.Equal("unset", read.Secret);
    }

    [Fact]
    public void An_ignored_positional_property_is_not_written_and_gets_its_default_when_read()
    {
        var map = ChannelMessage.From(new WithIgnored("hi", "s3cret"));

        Assert.Equal(["type", "text"], map.Keys);
        Assert.Equal(new WithIgnored("hi"), ChannelMessage.To<WithIgnored>(map));
    }

    [Fact]
    public void A_property_mapping_to_the_type_key_is_refused_when_sending_with_a_message_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new WithTypeProperty("x", "hi")));

        Assert.Contains("WithTypeProperty.Type", e.Message);
        Assert.Contains("\"type\"", e.Message);
        Assert.Contains("JsonIgnore", e.Message);
    }

    [Fact]
    public void A_property_mapping_to_the_type_key_is_refused_when_reading_and_naming()
    {
        var message = new Dictionary<string, object?> { ["type"] = "with.type.property", ["text"] = "hi" };

        Assert.Throws<ArgumentException>(() => ChannelMessage.To<WithTypeProperty>(message));
        Assert.Throws<ArgumentException>(() => ChannelMessage.TypeOf<WithTypeProperty>());
    }

    [Fact]
    public void A_record_with_a_type_property_can_still_be_nested_in_a_message()
    {
        var map = ChannelMessage.From(new Envelope<WithTypeProperty>(new WithTypeProperty("x", "hi")));

        var body = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(map["body"]);
        Assert.Equal("x", body["type"]);
    }

    [Fact]
    public void Two_properties_with_the_same_key_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new WithClashingKeys(1, 2)));

        Assert.Contains("\"user_id\"", e.Message);
    }

    [Fact]
    public void An_anonymous_type_is_refused_as_a_message_for_it_has_no_type_name()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new { Text = "hi" }));

        Assert.Contains("anonymous", e.Message);
    }
}
