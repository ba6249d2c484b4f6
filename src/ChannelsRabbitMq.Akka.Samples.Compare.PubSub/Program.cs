using ChannelsRabbitMq.Akka.Samples.Compare.PubSub;

// `--urls http://127.0.0.1:5755 --Cluster:Port 5757 --Cluster:Seed 127.0.0.1:5757 [--Chat:ServerName NAME]`
await PubSubChatApp.Create(args).RunAsync();
return 0;
