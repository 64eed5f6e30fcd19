using Kirisame.Protocol.Fuzz;
using SharpFuzz;

// Under afl-fuzz (fuzz/run.sh), with no arguments: SharpFuzz's fork server feeds each input to the target and
// reports an escaping exception as a crash. `replay FILE|DIR...` runs saved inputs once each instead, printing
// what each one throws; run.sh uses it, on an uninstrumented copy, to show the crashes it found.
// KIRISAME_FUZZ_HANG_FILE: where to save an input that runs longer than 5 s (see HangWatchdog).
if (args is ["replay", .. var paths])
    return Replay(paths);

if (args.Length != 0)
{
    Console.Error.WriteLine("usage: Kirisame.Protocol.Fuzz                 (under afl-fuzz: see fuzz/run.sh)");
    Console.Error.WriteLine("       Kirisame.Protocol.Fuzz replay FILE|DIR...");
    return 2;
}

var input = new MemoryStream();
var watchdog = HangWatchdog.Start(Environment.GetEnvironmentVariable("KIRISAME_FUZZ_HANG_FILE"), TimeSpan.FromSeconds(5), input.ToArray);
Fuzzer.Run(stream =>
{
    input.SetLength(0);
    stream.CopyTo(input);
    watchdog?.Begin();
    try
    {
        CodecFuzzTarget.Run(input.GetBuffer().AsSpan(0, (int)input.Length));
    }
    finally
    {
        watchdog?.End();
    }
});
return 0;

static int Replay(string[] paths)
{
    var files = paths.SelectMany<string, string>(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : [p]).ToList();
    var failed = 0;
    foreach (var file in files)
    {
        try
        {
            CodecFuzzTarget.Run(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine($"{file}: {e}");
        }
    }

    Console.WriteLine($"{files.Count} inputs replayed, {failed} threw.");
    return failed == 0 ? 0 : 1;
}
