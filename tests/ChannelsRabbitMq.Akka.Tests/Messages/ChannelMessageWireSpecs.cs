using ChannelsRabbitMq.Akka.Wire;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

public class ChannelMessageWireSpecs
{
    private const int MaxSize = 1 << 20;

    private static T ThroughTheWire<T>(T value)
    {
        var body = WireCodec.Encode(ChannelMessage.From(value), "q!c", null, MaxSize);
        var decoded = WireCodec.Decode(body);
        Assert.Equal("q!c", decoded.Channel);
        return ChannelMessage.To<T>(decoded.Message);
    }

    [Fact]
    public void A_record_with_nested_records_encodes_and_decodes_back_to_an_equal_record()
    {
        var original = new Post("Hello", new Author(7, "ann"));

        Assert.Equal(original, ThroughTheWire(original));
    }

    [Fact]
    public void A_record_with_lists_encodes_and_decodes_back()
    {
        var read = ThroughTheWire(new Review("r", [new Author(1, "ann"), new Author(2, "bob")]));

        Assert.Equal([new Author(1, "ann"), new Author(2, "bob")], read.Reviewers);
        Assert.Equal(["a", "b"], ThroughTheWire(new Tagged(2, ["a", "b"])).Tags);
    }

    [Fact]
    public void Enums_guids_dates_times_decimals_chars_and_bytes_encode_and_decode_back()
    {
        var original = new Scalars(
            Mood.DarkBlue,
            Guid.NewGuid(),
            DateTime.UtcNow,
            DateTimeOffset.Now,
            DateOnly.FromDateTime(DateTime.Today),
            TimeOnly.FromDateTime(DateTime.Now),
            TimeSpan.FromMinutes(90),
            -1234.5m,
            3.5f,
            'x',
            null);

        Assert.Equal(original, ThroughTheWire(original));
        Assert.Equal([1, 2, 255], ThroughTheWire(new WithBytes([1, 2, 255])).Data);
    }

    [Fact]
    public void A_class_with_init_properties_encodes_and_decodes_back()
    {
        var read = ThroughTheWire(new ProfileUpdated { UserId = int.MaxValue, DisplayName = "Ann", Bio = "hi", Tags = ["x"] });

        Assert.Equal((int.MaxValue, "Ann", "hi"), (read.UserId, read.DisplayName, read.Bio));
        Assert.Equal(["x"], read.Tags);
    }

    [Fact]
    public void The_body_is_the_map_a_Python_peer_expects()
    {
        var decoded = WireCodec.Decode(WireCodec.Encode(ChannelMessage.From(new ChatMessage("hi", 7)), "q!c", null, MaxSize));

        Assert.Equal(new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi", ["user_id"] = 7L }, decoded.Message);
    }
}
