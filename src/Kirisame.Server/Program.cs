using Kirisame.Server;

return await KirisameCommand.RunAsync(args, Console.Out, Console.Error);
