return await ChannelsRabbitMq.Akka.Benchmarks.BenchmarkProgram.MainAsync(args);
