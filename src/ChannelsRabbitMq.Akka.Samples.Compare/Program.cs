using ChannelsRabbitMq.Akka.Samples.Compare;

// ./build.sh compare [--quick] …: see CompareOptions.Usage and docs/performance.md.
return await CompareProgram.RunAsync(args);
