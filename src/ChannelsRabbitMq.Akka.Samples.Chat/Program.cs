using ChannelsRabbitMq.Akka.Samples.Chat;
using ChannelsRabbitMq.Akka.Samples.Chat.Load;

// `… load --server http://127.0.0.1:5101 --server http://127.0.0.1:5102 …`: the load client.
if (args.Length > 0 && args[0] == "load")
    return await LoadCommand.RunAsync(args[1..]);

// Anything else: a chat server (`--urls http://localhost:5101 --Chat:ServerName=alpha`).
await ChatApp.Create(args).RunAsync();
return 0;
