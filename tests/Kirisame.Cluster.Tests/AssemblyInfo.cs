// Each test class runs a cluster of three server processes: on a 2-core machine two clusters at once would only
// turn failure detection into timeouts.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
