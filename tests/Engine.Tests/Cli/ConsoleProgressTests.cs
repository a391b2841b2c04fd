using Trainer.Commands;

namespace Engine.Tests.Cli;

public class ConsoleProgressTests
{
    [Theory]
    [InlineData(75, "01:15")]
    [InlineData(3599, "59:59")]
    [InlineData(3 * 3600 + 125, "3:02:05")]
    [InlineData(2 * 86400 + 5 * 3600 + 59, "2d 5h")]
    public void The_ETA_never_wraps_at_an_hour(double seconds, string expected) =>
        Assert.Equal(expected, ConsoleProgress.FormatEta(TimeSpan.FromSeconds(seconds)));
}
