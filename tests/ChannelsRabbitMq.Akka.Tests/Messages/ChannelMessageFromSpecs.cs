using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

public class ChannelMessageFromSpecs(ITestOutputHelper output)
{
    [Fact]
    public void A_nested_record_becomes_a_nested_map_without_a_type_key()
    {
        var map = ChannelMessage.From(new Post("Hello", new Author(7, "ann")));

        var author = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(map["author"]);
        Assert.Equal(["id", "name"], author.Keys);
        Assert.Equal(7, author["id"]);
        Assert.Equal("ann", author["name"]);
    }

    [Fact]
    public void A_list_of_records_becomes_a_list_of_maps()
    {
        var map = ChannelMessage.From(new Review("r", [new Author(1, "ann"), new Author(2, "bob")]));

        var reviewers = Assert.IsAssignableFrom<IReadOnlyList<object?>>(map["reviewers"]);
        Assert.Equal(2, reviewers.Count);
        Assert.Equal("bob", Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(reviewers[1])["name"]);
    }

    [Fact]
    public void A_list_of_strings_becomes_a_list()
    {
        var map = ChannelMessage.From(new Tagged(2, ["a", "b"]));

        Assert.Equal(new object?[] { "a", "b" }, Assert.IsAssignableFrom<IReadOnlyList<object?>>(map["tags"]));
    }

    [Fact]
    public void An_enum_is_written_as_its_name()
    {
        Assert.Equal("DarkBlue", ChannelMessage.From(new WithMood(Mood.DarkBlue))["mood"]);
    }

    [Fact]
    public void Guids_dates_times_decimals_and_chars_are_written_as_strings_and_numbers_a_Python_peer_reads()
    {
        var id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        var map = ChannelMessage.From(new Scalars(
            Mood.Happy,
            id,
            new DateTime(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc),
            new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.FromHours(2)),
            new DateOnly(2024, 5, 1),
            new TimeOnly(12, 30, 15),
            TimeSpan.FromSeconds(1.5),
            12.5m,
            0.25f,
            'A',
            null));

        Assert.Equal("0f8fad5b-d9cb-469f-a165-70867728950e", map["id"]);
        Assert.Equal("2024-05-01T12:00:00.0000000Z", map["at"]);
        Assert.Equal("2024-05-01T12:00:00.0000000+02:00", map["at_offset"]);
        Assert.Equal("2024-05-01", map["day"]);
        Assert.Equal("12:30:15.0000000", map["time"]);
        Assert.Equal(1.5, map["elapsed"]);
        Assert.Equal(12.5, map["price"]);
        Assert.Equal(0.25f, map["ratio"]);
        Assert.Equal("A", map["grade"]);
        Assert.Null(map["maybe"]);
        Assert.True(map.ContainsKey("maybe"));
    }

    [Fact]
    public void Bytes_stay_bytes()
    {
        var data = new byte[] { 1, 2, 3 };

        Assert.Same(data, ChannelMessage.From(new WithBytes(data))["data"]);
    }

    [Fact]
    public void A_dictionary_with_string_keys_is_mapped_entry_by_entry_without_adding_a_type()
    {
        var map = ChannelMessage.From(new Dictionary<string, object?> { ["type"] = "custom.thing", ["mood"] = Mood.Happy, ["n"] = 1 });

        Assert.Equal("custom.thing", map["type"]);
        Assert.Equal("Happy", map["mood"]);
        Assert.Equal(1, map["n"]);
    }

    [Fact]
    public void A_dictionary_member_is_mapped_as_a_nested_map()
    {
        var map = ChannelMessage.From(new WithMap(new Dictionary<string, object?> { ["a"] = new Author(1, "ann") }, new() { ["x"] = 2 }));

        var extra = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(map["extra"]);
        Assert.Equal("ann", Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(extra["a"])["name"]);
        Assert.Equal(2, Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(map["counts"])["x"]);
    }

    [Fact]
    public void A_dictionary_with_non_string_keys_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new Dictionary<int, string> { [1] = "a" }));

        Assert.Contains("keys must be strings", e.Message);
    }

    public static TheoryData<object> NotMaps => new() { new[] { 1, 2 }, new List<string> { "a" }, "text", 42, Mood.Happy, new byte[] { 1 } };

    [Theory]
    [MemberData(nameof(NotMaps))]
    public void A_value_that_is_not_a_map_is_refused_as_a_message(object value)
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(value));

        Assert.Contains("a channel message is a map", e.Message);
        Assert.Equal("value", e.ParamName);
    }

    [Fact]
    public void A_null_message_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => ChannelMessage.From<ChatMessage?>(null));
    }

    [Fact]
    public void An_unsupported_member_type_is_refused_naming_its_key()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new WithUri(new Uri("https://example.com"))));

        Assert.Contains("[\"link\"]", e.Message);
        Assert.Contains("Uri", e.Message);
    }

    [Fact]
    public void A_cycle_is_refused_rather_than_overflowing_the_stack()
    {
        var node = new Node { Name = "a" };
        node.Next = node;

        var e = Assert.Throws<ArgumentException>(() => ChannelMessage.From(new Envelope<Node>(node)));

        Assert.Contains("cycle", e.Message);
    }

    [Fact]
    public void The_runtime_type_decides_the_mapping()
    {
        object boxed = new ChatMessage("hi", 7);

        Assert.Equal("chat.message", ChannelMessage.From(boxed)["type"]);
    }

    [Fact]
    public void Mapping_a_small_record_allocates_little()
    {
        var message = new ChatMessage("hello", 1234);
        for (int i = 0; i < 1000; i++) ChannelMessage.From(message); // warm up

        const int iterations = 20_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) ChannelMessage.From(message);
        watch.Stop();
        long perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / iterations;

        output.WriteLine($"{perMessage} bytes and {watch.Elapsed.TotalNanoseconds / iterations:F0} ns per From");
        // The dictionary (object + buckets + entries) and one boxed int.
        Assert.True(perMessage < 400, $"{perMessage} bytes allocated per From");
    }
}
