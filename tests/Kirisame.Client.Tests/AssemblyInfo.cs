// The tests start broker processes; on a small machine more parallelism only adds timeouts.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]
