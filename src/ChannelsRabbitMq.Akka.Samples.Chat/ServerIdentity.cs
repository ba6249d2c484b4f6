using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace ChannelsRabbitMq.Akka.Samples.Chat;

/// <summary>
/// Which server this is, as the page shows it: <c>Chat:ServerName</c> from configuration, else
/// <c>server-{port}</c>. The port is the one Kestrel listens on (known once it has started, so
/// <c>--urls http://127.0.0.1:0</c> works).
/// </summary>
public sealed class ServerIdentity(IServer server, IConfiguration configuration)
{
    private int _port;

    /// <summary>The HTTP port this server listens on (0 before it has started).</summary>
    public int Port
    {
        get
        {
            if (_port != 0) return _port;
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                // "http://127.0.0.1:5101", "http://[::]:5101", "http://localhost:5101", "http://+:5101"
                var colon = address.LastIndexOf(':');
                if (colon > 0 && int.TryParse(address.AsSpan(colon + 1).TrimEnd('/'), out var port) && port != 0)
                    return _port = port;
            }
            return 0;
        }
    }

    /// <summary>The name shown next to each message this server received from its author.</summary>
    public string Name => configuration["Chat:ServerName"] is { Length: > 0 } name ? name : $"server-{Port}";
}
