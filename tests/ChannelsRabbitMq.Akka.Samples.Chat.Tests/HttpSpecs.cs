using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Net.WebSockets;
using System.Text;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace ChannelsRabbitMq.Akka.Samples.Chat.Tests;

/// <summary><c>POST /rooms/{room}/messages</c> and the websocket protocol, without a browser.</summary>
[Collection(TwoServersCollection.Name)]
public sealed class HttpSpecs(TwoServers servers)
{
    private readonly HttpClient _http = new() { Timeout = Eventually.Timeout };

    private static string NewRoom() => "http-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_post_reaches_the_rooms_websockets_on_both_servers_and_answers_202()
    {
        var room = NewRoom();
        await using var onAlpha = await ChatClient.JoinAsync(servers.Alpha, room, "ann");
        await using var onBravo = await ChatClient.JoinAsync(servers.Bravo, room, "bob");
        await using var elsewhere = await ChatClient.JoinAsync(servers.Bravo, NewRoom(), "eve");

        var response = await _http.PostAsJsonAsync(new Uri(servers.Bravo.Url, $"rooms/{room}/messages"), new { text = "hello by HTTP" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        foreach (var client in new[] { onAlpha, onBravo })
        {
            var message = await client.ReceiveMessageAsync("hello by HTTP");
            Assert.Equal("bravo", message.GetProperty("server").GetString());
            Assert.Equal("http", message.GetProperty("user").GetString());
            Assert.Equal(room, message.GetProperty("room").GetString());
        }
        // Another room hears nothing: a message said there afterwards is the first it gets.
        await elsewhere.SayAsync("only here");
        Assert.Equal("only here", (await elsewhere.ReceiveAsync()).GetProperty("text").GetString());
    }

    [Fact]
    public async Task The_rooms_event_stream_carries_what_is_said_on_either_server_after_it_joined()
    {
        var room = NewRoom();
        using var cts = new CancellationTokenSource(Eventually.Timeout);
        using var response = await _http.GetAsync(new Uri(servers.Alpha.Url, $"rooms/{room}/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        await using var events = SseParser.Create(stream).EnumerateAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("joined", events.Current.EventType);

        await using var onBravo = await ChatClient.JoinAsync(servers.Bravo, room, "bob");
        await onBravo.SayAsync("said on bravo");
        await onBravo.ReceiveMessageAsync("said on bravo"); // the room has it
        var post = await _http.PostAsJsonAsync(new Uri(servers.Alpha.Url, $"rooms/{room}/messages"), new { text = "posted to alpha" }, cts.Token);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);

        foreach (var (text, server) in new[] { ("said on bravo", "bravo"), ("posted to alpha", "alpha") })
        {
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("message", events.Current.EventType);
            using var data = System.Text.Json.JsonDocument.Parse(events.Current.Data);
            Assert.Equal(text, data.RootElement.GetProperty("text").GetString());
            Assert.Equal(server, data.RootElement.GetProperty("server").GetString());
        }
    }

    [Fact]
    public async Task The_event_stream_of_an_invalid_room_is_a_400()
    {
        var response = await _http.GetAsync(new Uri(servers.Alpha.Url, "rooms/no%20spaces/events"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task What_a_websocket_says_reaches_the_room_on_both_servers_in_order()
    {
        var room = NewRoom();
        await using var onAlpha = await ChatClient.JoinAsync(servers.Alpha, room, "ann");
        await using var onBravo = await ChatClient.JoinAsync(servers.Bravo, room, "bob");

        for (var i = 0; i < 20; i++) await onAlpha.SayAsync($"line {i}");

        foreach (var client in new[] { onAlpha, onBravo })
        {
            for (var i = 0; i < 20; i++)
            {
                var frame = await client.ReceiveAsync();
                Assert.Equal($"line {i}", frame.GetProperty("text").GetString());
                Assert.Equal("alpha", frame.GetProperty("server").GetString());
                Assert.Equal("ann", frame.GetProperty("user").GetString());
            }
        }
    }

    [Fact]
    public async Task A_websocket_frame_without_text_is_answered_with_an_error_frame()
    {
        await using var client = await ChatClient.JoinAsync(servers.Alpha, NewRoom(), "ann");

        await client.SendRawAsync("not json");
        var error = await client.ReceiveAsync();

        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Contains("text", error.GetProperty("error").GetString());
        await client.SayAsync("still connected");
        Assert.Equal("still connected", (await client.ReceiveAsync()).GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("lob.by", "{\"text\":\"hi\"}")]                    // not a room name
    [InlineData("lobby", "{\"txt\":\"hi\"}")]                       // no text
    [InlineData("lobby", "{\"text\":\"   \"}")]                     // empty text
    [InlineData("lobby", "{\"text\":\"hi\",\"user\":\"a b\"}")]     // not a user name
    [InlineData("lobby", "{\"text\": 42}")]                         // text not a string
    [InlineData("lobby", "hello")]                                  // not JSON
    [InlineData("lobby", "")]                                       // no body
    public async Task Bad_input_is_answered_400(string room, string body)
    {
        var response = await _http.PostAsync(new Uri(servers.Alpha.Url, $"rooms/{room}/messages"),
            new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Text_over_2000_characters_is_answered_400()
    {
        var response = await _http.PostAsJsonAsync(new Uri(servers.Alpha.Url, "rooms/lobby/messages"), new { text = new string('x', 2001) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task A_websocket_to_an_invalid_room_is_refused_400()
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(ChatClient.Url(servers.Alpha, "no/such room", "ann"), new CancellationTokenSource(Eventually.Timeout).Token));
        Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);
    }

    [Fact]
    public async Task The_page_names_its_server_and_healthz_is_healthy()
    {
        var page = await _http.GetStringAsync(servers.Bravo.Url);
        Assert.Contains("data-server=\"bravo\"", page);
        Assert.Contains($"(port {servers.Bravo.Port})", page);
        Assert.Equal("Healthy", await _http.GetStringAsync(new Uri(servers.Bravo.Url, "healthz")));
    }
}

/// <summary>A full queue (<see cref="ChannelFullException"/>) is 503, with a layer that always refuses.</summary>
public sealed class FullLayerSpecs
{
    [Fact]
    public async Task ChannelFullException_from_the_layer_is_answered_503()
    {
        await using var server = await ChatServer.StartAsync("full", builder =>
            builder.Services.AddSingleton<IActorChannelLayer>(sp =>
                new RefusingLayer(sp.GetRequiredService<ActorSystem>().ActorOf(Props.Create(() => new RefusingActor())))));
        using var http = new HttpClient { Timeout = Eventually.Timeout };

        var response = await http.PostAsJsonAsync(new Uri(server.Url, "rooms/lobby/messages"), new { text = "hi" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("full", await response.Content.ReadAsStringAsync());
    }

    // Answers every request as a layer whose destination queue is full.
    private sealed class RefusingActor : ReceiveActor
    {
        public RefusingActor() => ReceiveAny(_ => Sender.Tell(new Status.Failure(new ChannelFullException("The channel is full."))));
    }

    private sealed class RefusingLayer(IActorRef actor) : IActorChannelLayer
    {
        public IActorRef Actor => actor;
        public IReadOnlyCollection<string> Extensions => ["groups"];
        public Task<string> NewChannelAsync(string prefix = "specific", CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task SendAsync(string channel, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<IReadOnlyDictionary<string, object?>> ReceiveAsync(string channel, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task GroupAddAsync(string group, string channel, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task GroupDiscardAsync(string group, string channel, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task GroupSendAsync(string group, IReadOnlyDictionary<string, object?> message, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task SubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task UnsubscribeAsync(string channel, IActorRef subscriber, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ChannelLayerStatistics GetStatistics() => throw new NotSupportedException();
        public Task CloseAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
