using ChannelsRabbitMq.Akka.Tests.Wire;
using ChannelsRabbitMq.Akka.Wire;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

/// <summary>Typed messages against a real Python msgpack (see <see cref="PythonMsgpack"/>), as in docs/typed-messages.md.</summary>
public class ChannelMessagePythonInteropSpecs
{
    private static readonly DocsChatMessage Example = new(
        "hi",
        7,
        new Author(7, "ann"),
        ["greeting"],
        Mood.Happy,
        Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"),
        new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero),
        LocalNote: "not sent");

    [Fact]
    public void A_Python_consumer_sees_the_record_as_a_plain_dict()
    {
        var body = WireCodec.Encode(ChannelMessage.From(Example), null, "room-1", 1 << 20);

        var seen = PythonMsgpack.Run("""
            import base64, msgpack, sys
            from datetime import datetime, timezone
            event = msgpack.unpackb(base64.b64decode(sys.stdin.read()), raw=False)
            assert event.pop("__asgi_group__") == "room-1"
            assert event == {
                "type": "docs.chat.message",
                "text": "hi",
                "user_id": 7,
                "author": {"id": 7, "name": "ann"},
                "tags": ["greeting"],
                "mood": "Happy",
                "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                "sent_at": "2024-05-01T12:00:00.0000000+00:00",
                "html": None,
            }, event
            assert list(event)[0] == "type"
            assert datetime.fromisoformat(event["sent_at"]) == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
            sys.stdout.write("ok")
            """, Convert.ToBase64String(body));

        Assert.Equal("ok", seen);
    }

    [Fact]
    public void A_dict_sent_by_Python_is_read_as_the_record()
    {
        var base64 = PythonMsgpack.Run("""
            import base64, msgpack, sys
            message = {
                "type": "docs.chat.message",
                "text": "hi",
                "user_id": 7,
                "author": {"id": 7, "name": "ann", "avatar": None},
                "tags": ["greeting"],
                "mood": "happy",
                "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                "sent_at": "2024-05-01T12:00:00+00:00",
                "__asgi_channel__": "q!c",
            }
            sys.stdout.write(base64.b64encode(msgpack.packb(message)).decode("ascii"))
            """);

        var read = ChannelMessage.To<DocsChatMessage>(WireCodec.Decode(Convert.FromBase64String(base64)).Message);

        Assert.Equal(Example with { Tags = read.Tags, LocalNote = null }, read);
        Assert.Equal(["greeting"], read.Tags);
    }
}
