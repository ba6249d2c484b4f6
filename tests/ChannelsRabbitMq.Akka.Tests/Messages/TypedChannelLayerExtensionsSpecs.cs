using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Messages;

public class TypedChannelLayerExtensionsSpecs
{
    /// <summary>Records what reaches the layer's own (interface) methods.</summary>
    private sealed class RecordingLayer : IChannelLayer
    {
        public List<(string Method, string Target, IReadOnlyDictionary<string, object?> Message)> Calls { get; } = [];

        public Queue<IReadOnlyDictionary<string, object?>> Inbox { get; } = new();

        public int Receives { get; private set; }

        public IReadOnlyCollection<string> Extensions => ["groups"];

        public Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default) =>
            Task.FromResult("q!" + prefix);

        public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
        {
            Calls.Add(("SendAsync", channel, message));
            return Task.CompletedTask;
        }

        public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default)
        {
            Receives++;
            return Task.FromResult(Inbox.Dequeue());
        }

        public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default)
        {
            Calls.Add(("GroupSendAsync", group, message));
            return Task.CompletedTask;
        }

        public Task CloseAsync() => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Sending_a_dictionary_still_binds_to_the_layer_method_not_the_typed_extension()
    {
        var fake = new RecordingLayer();
        IChannelLayer layer = fake;
        var dictionary = new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi" };

        await layer.SendAsync("q!c", dictionary);
        await layer.GroupSendAsync("room", dictionary);
        await fake.SendAsync("q!c", dictionary); // through the class, too

        // The typed extension would have mapped it into a new map; the layer got the very instance.
        Assert.All(fake.Calls, call => Assert.Same(dictionary, call.Message));
    }

    [Fact]
    public async Task Sending_a_record_sends_its_message_map()
    {
        var fake = new RecordingLayer();
        IChannelLayer layer = fake;

        await layer.SendAsync("q!c", new ChatMessage("hi", 7));

        var (method, channel, message) = Assert.Single(fake.Calls);
        Assert.Equal(("SendAsync", "q!c"), (method, channel));
        Assert.Equal(new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi", ["user_id"] = 7 }, message);
    }

    [Fact]
    public async Task Sending_a_record_to_a_group_sends_its_message_map()
    {
        var fake = new RecordingLayer();

        await fake.GroupSendAsync("room", new UserJoined("ann"));

        var (method, group, message) = Assert.Single(fake.Calls);
        Assert.Equal(("GroupSendAsync", "room"), (method, group));
        Assert.Equal("user.joined", message["type"]);
    }

    [Fact]
    public async Task Sending_a_dictionary_of_another_value_type_maps_it_entry_by_entry()
    {
        var fake = new RecordingLayer();

        await fake.SendAsync("q!c", new Dictionary<string, string> { ["type"] = "x.y", ["text"] = "hi" });

        Assert.Equal(new Dictionary<string, object?> { ["type"] = "x.y", ["text"] = "hi" }, Assert.Single(fake.Calls).Message);
    }

    [Fact]
    public async Task Sending_a_sequence_throws_ArgumentException_and_sends_nothing()
    {
        var fake = new RecordingLayer();

        var e = await Assert.ThrowsAsync<ArgumentException>(() => fake.SendAsync("q!c", new List<string> { "a" }));

        Assert.Equal("message", e.ParamName);
        Assert.Contains("a channel message is a map", e.Message);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public async Task Receiving_a_record_maps_the_next_message()
    {
        var fake = new RecordingLayer();
        fake.Inbox.Enqueue(new Dictionary<string, object?> { ["type"] = "chat.message", ["text"] = "hi", ["user_id"] = 7L });

        var message = await fake.ReceiveAsync<ChatMessage>("q!c");

        Assert.Equal(new ChatMessage("hi", 7), message);
    }

    [Fact]
    public async Task Receiving_without_a_type_argument_still_binds_to_the_layer_method()
    {
        var fake = new RecordingLayer();
        var sent = new Dictionary<string, object?> { ["type"] = "chat.message" };
        fake.Inbox.Enqueue(sent);

        IReadOnlyDictionary<string, object?> message = await fake.ReceiveAsync("q!c");

        Assert.Same(sent, message);
    }

    [Fact]
    public async Task Receiving_a_message_of_another_type_throws_with_the_message_attached()
    {
        var fake = new RecordingLayer();
        var other = new Dictionary<string, object?> { ["type"] = "user.joined", ["user_name"] = "ann" };
        fake.Inbox.Enqueue(other);

        var e = await Assert.ThrowsAsync<ChannelMessageFormatException>(() => fake.ReceiveAsync<ChatMessage>("q!c"));

        Assert.Same(other, e.SourceMessage);
        Assert.Equal(new UserJoined("ann"), ChannelMessage.To<UserJoined>(e.SourceMessage!));
    }

    [Fact]
    public async Task Receiving_a_type_that_cannot_be_read_throws_before_taking_a_message()
    {
        var fake = new RecordingLayer();

        await Assert.ThrowsAsync<ArgumentException>(() => fake.ReceiveAsync<List<int>>("q!c"));

        Assert.Equal(0, fake.Receives);
    }
}
