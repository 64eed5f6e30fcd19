// The fixtures run `dotnet pack` and `dotnet publish`, each using both cores for a while: more test classes at
// once would only add timeouts.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]
