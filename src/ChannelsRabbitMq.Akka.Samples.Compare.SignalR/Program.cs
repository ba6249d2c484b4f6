using ChannelsRabbitMq.Akka.Samples.Compare.SignalR;

// `--urls http://127.0.0.1:5753 --Redis localhost:5750 [--Chat:ServerName NAME]`
await SignalRChatApp.Create(args).RunAsync();
return 0;
