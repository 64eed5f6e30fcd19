namespace Kirisame.Testing;

public static class Poll
{
    /// Waits for a condition with a deadline instead of sleeping a guessed amount of time.
    public static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(25);
        }
        return true;
    }

    /// Awaits task, failing with a message that says what was being waited for.
    public static async Task<T> WithTimeout<T>(Task<T> task, TimeSpan timeout, string what)
    {
        var finished = await Task.WhenAny(task, Task.Delay(timeout));
        if (finished != task)
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.");
        return await task;
    }

    public static async Task WithTimeout(Task task, TimeSpan timeout, string what)
    {
        var finished = await Task.WhenAny(task, Task.Delay(timeout));
        if (finished != task)
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.");
        await task;
    }
}
