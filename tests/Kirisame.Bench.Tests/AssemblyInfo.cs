// Load tests share two cores with everything else; running them one at a time keeps them meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
