using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Kirisame.Benchmarks;

/// The CI guard for "per-message allocations on the QoS 0 path are a bug" (docs/ARCHITECTURE.md): runs the
/// benchmarks in <see cref="Category"/> with a short job and fails when any of them allocates at all.
internal static class AllocationBudget
{
    public const string Category = "ZeroAlloc";

    public static int Run()
    {
        var config = DefaultConfig.Instance
            // In-process: the budget is about bytes, not nanoseconds, and skipping the generated project's
            // build (tens of seconds on a busy CI machine) keeps this check well under two minutes.
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("Budget"))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddFilter(new AnyCategoriesFilter([Category]))
            .WithOptions(ConfigOptions.JoinSummary);
        var summaries = BenchmarkRunner.Run(typeof(AllocationBudget).Assembly, config);

        var failures = new List<string>();
        var measured = 0;
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors)
                failures.Add($"{summary.Title}: critical validation errors (see above)");
            foreach (var benchmark in summary.BenchmarksCases)
            {
                var name = $"{benchmark.Descriptor.DisplayInfo} {benchmark.Parameters.DisplayInfo}";
                var report = summary.Reports.FirstOrDefault(r => r.BenchmarkCase == benchmark);
                if (report is null || !report.Success)
                {
                    failures.Add($"{name}: did not run to completion");
                    continue;
                }

                var bytes = report.GcStats.GetBytesAllocatedPerOperation(benchmark);
                if (bytes is null)
                    failures.Add($"{name}: allocations were not measured");
                else if (bytes > 0)
                    failures.Add($"{name}: allocates {bytes} B/op, budget is 0 B/op");
                else
                    measured++;
            }
        }

        if (measured == 0 && failures.Count == 0)
            failures.Add($"no benchmark in category '{Category}' was found");

        Console.WriteLine();
        foreach (var failure in failures)
            Console.WriteLine($"ALLOCATION BUDGET FAILED: {failure}");
        if (failures.Count == 0)
            Console.WriteLine($"Allocation budget met: {measured} benchmarks in '{Category}' allocate 0 B/op.");
        return failures.Count == 0 ? 0 : 1;
    }
}
