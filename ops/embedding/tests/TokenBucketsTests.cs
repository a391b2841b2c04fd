using Engine.Backends.Cuda;

namespace Engine.Tests.Backends.Cuda;

public class TokenBucketsTests
{
    [Fact]
    public void Positions_are_grouped_by_token_in_ascending_order()
    {
        var (tokens, starts, positions) = TokenBuckets.Build([5, 2, 5, 9, 2, 5]);
        Assert.Equal([2, 5, 9], tokens);
        Assert.Equal([0, 2, 5, 6], starts);
        Assert.Equal([1, 4, 0, 2, 5, 3], positions);
    }

    [Fact]
    public void No_tokens_give_no_buckets()
    {
        var (tokens, starts, positions) = TokenBuckets.Build([]);
        Assert.Empty(tokens);
        Assert.Equal([0], starts);
        Assert.Empty(positions);
    }
}
