// Akka.NET's own completion marker; inside namespace ChannelsRabbitMq.Akka a plain "Akka.Done"
// would resolve against this project's namespace.
global using Done = global::Akka.Done;
global using ChannelsRabbitMq.Akka.Wire;
