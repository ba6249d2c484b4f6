using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

public class ChannelMessageToSpecs
{
    [Fact]
    public void A_positional_record_round_trips_through_its_map()
    {
        var original = new Post("Hello", new Author(7, "ann"));

        Assert.Equal(original, ChannelMessage.To<Post>(ChannelMessage.From(original)));
    }

    [Fact]
    public void A_class_with_init_properties_round_trips_through_its_map()
    {
        var original = new ProfileUpdated { UserId = 7, DisplayName = "Ann", Bio = null, Tags = ["a", "b"] };

        var read = ChannelMessage.To<ProfileUpdated>(ChannelMessage.From(original));

        Assert.Equal(7, read.UserId);
        Assert.Equal("Ann", read.DisplayName);
        Assert.Null(read.Bio);
        Assert.Equal(["a", "b"], read.Tags);
    }

    [Fact]
    public void A_record_struct_round_trips_through_its_map()
    {
        Assert.Equal(new Point(3, -4), ChannelMessage.To<Point>(ChannelMessage.From(new Point(3, -4))));
    }

    [Fact]
    public void A_struct_with_settable_properties_round_trips_through_its_map()
    {
        var original = new Counter { Value = 5, Label = "five" };

        Assert.Equal(original, ChannelMessage.To<Counter>(ChannelMessage.From(original)));
    }

    [Fact]
    public void A_list_of_records_round_trips()
    {
        var read = ChannelMessage.To<Review>(ChannelMessage.From(new Review("r", [new Author(1, "ann"), new Author(2, "bob")])));

        Assert.Equal([new Author(1, "ann"), new Author(2, "bob")], read.Reviewers);
    }

    [Fact]
    public void Enums_guids_dates_times_decimals_and_chars_round_trip()
    {
        var original = new Scalars(
            Mood.DarkBlue,
            Guid.NewGuid(),
            new DateTime(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc).AddTicks(1234567),
            new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.FromHours(-5)).AddTicks(7),
            new DateOnly(2024, 5, 1),
            new TimeOnly(23, 59, 59).Add(TimeSpan.FromTicks(1)),
            TimeSpan.FromMilliseconds(1500.25),
            12.5m,
            0.25f,
            'é',
            42);

        var read = ChannelMessage.To<Scalars>(ChannelMessage.From(original));

        Assert.Equal(original, read);
        Assert.Equal(DateTimeKind.Utc, read.At.Kind);
        Assert.Equal(original.AtOffset.Offset, read.AtOffset.Offset);
    }

    [Fact]
    public void An_integer_fitting_a_narrower_member_is_narrowed()
    {
        var message = new Dictionary<string, object?> { ["type"] = "sized", ["level"] = 200L, ["delta"] = -300L };

        Assert.Equal(new Sized(200, -300), ChannelMessage.To<Sized>(message));
    }

    [Fact]
    public void An_integer_overflowing_its_member_throws_a_format_exception_naming_the_key_and_type()
    {
        var message = new Dictionary<string, object?> { ["type"] = "sized", ["level"] = 300L, ["delta"] = 0L };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<Sized>(message));

        Assert.Equal("level", e.Key);
        Assert.Equal(typeof(Sized), e.TargetType);
        Assert.IsType<OverflowException>(e.InnerException);
        Assert.Contains("[\"level\"]", e.Message);
        Assert.Contains("300", e.Message);
        Assert.Contains("byte", e.Message);
    }

    [Fact]
    public void A_missing_key_for_a_required_constructor_parameter_throws_a_format_exception_naming_the_key_and_type()
    {
        var message = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi" };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<ChatMessage>(message));

        Assert.IsAssignableFrom<FormatException>(e);
        Assert.Equal("user_id", e.Key);
        Assert.Equal(typeof(ChatMessage), e.TargetType);
        Assert.Contains("\"user_id\"", e.Message);
        Assert.Contains("missing", e.Message);
        Assert.Contains("ChatMessage", e.Message);
        Assert.Same(message, e.SourceMessage);
    }

    [Fact]
    public void A_missing_key_in_a_nested_record_names_the_path_and_the_nested_type()
    {
        var message = new Dictionary<string, object?>
        {
            ["type"] = "post",
            ["title"] = "t",
            ["author"] = new Dictionary<string, object?> { ["name"] = "ann" },
        };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<Post>(message));

        Assert.Equal("id", e.Key);
        Assert.Equal("[\"author\"][\"id\"]", e.Path);
        Assert.Equal(typeof(Author), e.TargetType);
    }

    [Fact]
    public void A_missing_key_for_a_nullable_or_optional_parameter_gives_null_or_the_default()
    {
        var message = new Dictionary<string, object?> { ["type"] = "optional", ["text"] = "hi" };

        Assert.Equal(new Optional("hi", null, 3, null), ChannelMessage.To<Optional>(message));
    }

    [Fact]
    public void A_missing_key_for_a_required_property_throws_a_format_exception()
    {
        var message = new Dictionary<string, object?> { ["type"] = "with.required", ["age"] = 3L };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<WithRequired>(message));

        Assert.Equal("name", e.Key);
    }

    [Fact]
    public void A_null_for_a_non_nullable_member_throws_a_format_exception()
    {
        var message = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = null, ["user_id"] = 1L };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<ChatMessage>(message));

        Assert.Equal("text", e.Key);
        Assert.Contains("not nullable", e.Message);
    }

    [Fact]
    public void A_value_of_the_wrong_kind_throws_a_format_exception()
    {
        var message = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi", ["user_id"] = "7" };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<ChatMessage>(message));

        Assert.Equal("user_id", e.Key);
        Assert.Contains("integer", e.Message);
    }

    [Fact]
    public void A_message_of_another_type_is_refused()
    {
        var message = new Dictionary<string, object?> { ["type"] = "user.joined", ["text"] = "hi", ["user_id"] = 1L };

        var e = Assert.Throws<ChannelMessageFormatException>(() => ChannelMessage.To<ChatMessage>(message));

        Assert.Equal("type", e.Key);
        Assert.Contains("\"user.joined\"", e.Message);
        Assert.Contains("\"chat.message\"", e.Message);
    }

    [Fact]
    public void Keys_without_a_member_are_ignored()
    {
        var message = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi", ["user_id"] = 1L, ["extra"] = new object?[] { 1L } };

        Assert.Equal(new ChatMessage("hi", 1), ChannelMessage.To<ChatMessage>(message));
    }

    [Theory]
    [InlineData("DarkBlue")]
    [InlineData("darkblue")]
    [InlineData(1L)]
    public void An_enum_is_read_from_its_name_ignoring_case_or_from_its_value(object value)
    {
        var message = new Dictionary<string, object?> { ["type"] = "with.mood", ["mood"] = value };

        Assert.Equal(Mood.DarkBlue, ChannelMessage.To<WithMood>(message).Mood);
    }

    [Fact]
    public void A_time_with_an_offset_is_read_into_a_DateTime_as_UTC()
    {
        var message = new Dictionary<string, object?> { ["type"] = "with.timestamp", ["at"] = "2024-05-01T14:00:00+02:00" };

        var at = ChannelMessage.To<WithTimestamp>(message).At;

        Assert.Equal(new DateTime(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc), at);
        Assert.Equal(DateTimeKind.Utc, at.Kind);
    }

    [Fact]
    public void A_map_decoded_from_the_wire_maps_to_int_and_List_of_string_members()
    {
        // As WireCodec.Decode hands it over: integers as long, lists as object?[].
        IReadOnlyDictionary<string, object?> decoded = new Dictionary<string, object?>
        {
            ["type"] = "tagged",
            ["count"] = 2L,
            ["tags"] = new object?[] { "a", "b" },
        };

        var read = ChannelMessage.To<Tagged>(decoded);

        Assert.Equal(2, read.Count);
        Assert.Equal(["a", "b"], read.Tags);
    }

    [Fact]
    public void A_map_can_be_read_as_a_dictionary_without_a_type_check()
    {
        IReadOnlyDictionary<string, object?> message = new Dictionary<string, object?> { ["type"] = "anything", ["a"] = 1L };

        Assert.Same(message, ChannelMessage.To<IReadOnlyDictionary<string, object?>>(message));
        Assert.Equal(1L, ChannelMessage.To<Dictionary<string, object?>>(message)["a"]);
        Assert.Equal(1, ChannelMessage.To<Dictionary<string, int>>(new Dictionary<string, object?> { ["a"] = 1L })["a"]);
    }

    [Fact]
    public void A_type_that_is_not_a_map_cannot_be_read_from_a_message()
    {
        var message = new Dictionary<string, object?> { ["type"] = "x" };

        Assert.Throws<ArgumentException>(() => ChannelMessage.To<int[]>(message));
        Assert.Throws<ArgumentException>(() => ChannelMessage.To<string>(message));
    }

    [Fact]
    public void Is_compares_the_type_key_with_the_type_name()
    {
        var chat = ChannelMessage.From(new ChatMessage("hi", 1));

        Assert.True(ChannelMessage.Is<ChatMessage>(chat));
        Assert.True(ChannelMessage.Is<Shout>(chat)); // named "chat.message" by its attribute
        Assert.False(ChannelMessage.Is<UserJoined>(chat));
        Assert.False(ChannelMessage.Is<ChatMessage>(new Dictionary<string, object?> { ["text"] = "no type" }));
    }
}
