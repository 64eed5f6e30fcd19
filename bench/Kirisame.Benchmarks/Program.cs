using BenchmarkDotNet.Running;
using Kirisame.Benchmarks;

// `--budget`: the quick allocation check for CI. Anything else goes to BenchmarkDotNet's own command line
// (`--filter '*'`, `--job short`, `--list flat`, ...).
if (args is ["--budget"])
    return AllocationBudget.Run();

BenchmarkSwitcher.FromAssembly(typeof(AllocationBudget).Assembly).Run(args);
return 0;
