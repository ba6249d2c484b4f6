using ChannelsRabbitMq.Akka.Transport;
using Xunit;

namespace ChannelsRabbitMq.Akka.Tests.Transport;

public class AmqpUrisSpecs
{
    [Fact]
    public void A_full_uri_gives_host_port_decoded_credentials_and_vhost()
    {
        var endpoint = Assert.Single(AmqpUris.Parse("amqp://us%3Aer:p%40ss%2Fw0rd@broker.example:1234/my%2Fvhost"));

        Assert.False(endpoint.Tls);
        Assert.Equal("broker.example", endpoint.Host);
        Assert.Equal(1234, endpoint.Port);
        Assert.Equal("us:er", endpoint.UserName);
        Assert.Equal("p@ss/w0rd", endpoint.Password);
        Assert.Equal("my/vhost", endpoint.VirtualHost);
    }

    [Theory]
    [InlineData("amqp://h", false, 5672)]
    [InlineData("amqps://h", true, 5671)]
    [InlineData("AMQPS://h", true, 5671)]
    [InlineData("amqps://h:5683", true, 5683)]
    public void The_scheme_chooses_tls_and_the_default_port(string uri, bool tls, int port)
    {
        var endpoint = Assert.Single(AmqpUris.Parse(uri));

        Assert.Equal(tls, endpoint.Tls);
        Assert.Equal(port, endpoint.Port);
    }

    [Fact]
    public void Without_user_information_the_credentials_are_guest()
    {
        var endpoint = Assert.Single(AmqpUris.Parse("amqp://h/asgi"));

        Assert.Equal("guest", endpoint.UserName);
        Assert.Equal("guest", endpoint.Password);
    }

    [Theory]
    [InlineData("amqp://h", "/")]
    [InlineData("amqp://h/", "/")]
    [InlineData("amqp://h/%2F", "/")]
    [InlineData("amqp://h/asgi", "asgi")]
    [InlineData("amqp://h/a%20b", "a b")]
    public void The_path_is_the_vhost_and_an_empty_path_is_the_default_vhost(string uri, string vhost)
    {
        Assert.Equal(vhost, Assert.Single(AmqpUris.Parse(uri)).VirtualHost);
    }

    [Fact]
    public void A_plus_in_the_password_stays_a_plus()
    {
        Assert.Equal("a+b", Assert.Single(AmqpUris.Parse("amqp://u:a+b@h/v")).Password);
    }

    [Fact]
    public void An_ipv6_host_is_given_without_brackets()
    {
        var endpoint = Assert.Single(AmqpUris.Parse("amqp://u:p@[::1]:5682/v"));

        Assert.Equal("::1", endpoint.Host);
        Assert.Equal(5682, endpoint.Port);
    }

    [Fact]
    public void Several_comma_separated_uris_are_trimmed_and_kept_in_order()
    {
        var endpoints = AmqpUris.Parse("  amqp://u:p@h1/v ,amqps://u:p@h2:5683/v  ");

        Assert.Collection(endpoints,
            e => { Assert.Equal("h1", e.Host); Assert.False(e.Tls); Assert.Equal(5672, e.Port); },
            e => { Assert.Equal("h2", e.Host); Assert.True(e.Tls); Assert.Equal(5683, e.Port); });
    }

    [Theory]
    [InlineData("amqp://u:secret1@h1/v,amqp://u:secret2@h2/v")]
    [InlineData("amqp://u:secret1@h1/v,amqp://other:secret1@h2/v")]
    [InlineData("amqp://u:secret1@h1/v,amqp://u:secret1@h2/w")]
    public void Uris_with_different_credentials_or_vhosts_are_refused_without_echoing_passwords(string host)
    {
        var ex = Assert.Throws<ArgumentException>(() => AmqpUris.Parse(host));

        Assert.Contains("same user, password and virtual host", ex.Message);
        Assert.DoesNotContain("secret", ex.Message);
    }

    [Theory]
    [InlineData("http://u:secret@h/v", "scheme")]
    [InlineData("amqp://u:secret@h/a/b", "segments")]
    [InlineData("amqp://u:secret@h/v?heartbeat=10", "query")]
    [InlineData("amqp://u:sec:ret@h/v", "more than one ':'")]
    [InlineData("not a uri u:secret@", "expected amqp://")]
    [InlineData("amqp://u:secret@h/v,,amqp://u:secret@h2/v", "empty URI")]
    [InlineData("amqp://u:secret@h/v#frag", "fragment")]
    [InlineData("amqp://u:sec#ret@h/v", "not a valid AMQP URI")]
    public void An_invalid_uri_is_refused_with_a_redacted_message(string host, string why)
    {
        var ex = Assert.Throws<ArgumentException>(() => AmqpUris.Parse(host));

        Assert.Contains(why, ex.Message);
        Assert.DoesNotContain("secret", ex.Message);
        Assert.DoesNotContain("ret@", ex.Message);
    }

    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1/asgi", "amqp://guest:***@127.0.0.1/asgi")]
    [InlineData("amqps://u:p%40ss@h:5671/v", "amqps://u:***@h:5671/v")]
    [InlineData("amqp://u:a@h1/v, amqps://u:b@h2/v", "amqp://u:***@h1/v, amqps://u:***@h2/v")]
    [InlineData("amqp://user@h/v", "amqp://user@h/v")]
    [InlineData("amqp://h:5672/v", "amqp://h:5672/v")]
    public void Redact_replaces_every_password_and_keeps_the_rest(string host, string expected)
    {
        Assert.Equal(expected, AmqpUris.Redact(host));
    }

    [Theory]
    [InlineData("amqp://u:se@cret@h/v")]      // unescaped '@' in the password
    [InlineData("amqp://u:se,cret@h/v")]      // unescaped ',' looks like a second URI
    [InlineData("amqp://u:se/cret@h/v")]      // unescaped '/' looks like a path
    [InlineData("u:secret@h")]                // no scheme at all
    [InlineData("amqp://u:secret@h1/v,u:secret@h2/v")]
    [InlineData("amqp://u:secret@")]
    public void Redact_never_echoes_a_password_of_malformed_input(string host)
    {
        var redacted = AmqpUris.Redact(host);

        Assert.DoesNotContain("cret", redacted);
        Assert.Contains("***", redacted);
    }

    [Fact]
    public void An_endpoint_prints_without_its_password()
    {
        var endpoint = Assert.Single(AmqpUris.Parse("amqps://u:secret@h/asgi"));

        Assert.Equal("amqps://u:***@h:5671/asgi", endpoint.ToString());
    }
}
