// Every test class starts broker and client processes; on a small machine more parallelism only adds
// timeouts.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]
