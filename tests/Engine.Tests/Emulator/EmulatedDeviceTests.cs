using Trainer.Cli;
using System.Diagnostics;
using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Interop;
using Engine.Tests.Cli;
using Engine.Tests.Support;

namespace Engine.Tests.Emulator;

/// <summary>
/// The emulated CUDA device itself (docs/emulator.md): its own C++ test programs (the fiber scheduler, the CUDA shim's
/// conversions and WMMA, cuBLAS and NCCL, the driver's refusals and fault reports), which the build puts in
/// build/emulator, and what the engine does with it: `bench` says it measures no speed, `--device auto` never picks it.
/// </summary>
public class EmulatedDeviceTests
{
    [Theory]
    [InlineData("emulator_scheduler_tests")]
    [InlineData("emulator_shim_tests")]
    [InlineData("emulator_blas_nccl_tests")]
    [InlineData("emulator_driver_tests")]
    public void The_emulators_own_tests_pass(string program)
    {
        string? path = FindBuilt(program);
        Assert.SkipWhen(path == null, $"{program} is not built (cmake -S . -B build/kernels && cmake --build build/kernels builds it with the emulator)");
        var start = new ProcessStartInfo(path!) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Each program sets the schedule orders it checks; a CI pass's ENGINE_CUDA_EMULATOR_SCHEDULE is not theirs.
        start.Environment.Remove("ENGINE_CUDA_EMULATOR_SCHEDULE");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"{program} did not finish within 5 minutes");
        Assert.True(process.ExitCode == 0, $"{program} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void Bench_on_the_emulated_device_says_it_is_not_a_speed_measurement()
    {
        Gpu.Require();
        Assert.SkipUnless(Gpu.Emulated, "a real GPU is present: bench measures it");
        var (code, stdout, stderr) = ConsoleCapture.Run("bench", "--device", "cuda", "--batch", "2", "--seq", "16", "--steps", "1", "--warmup", "0");
        Assert.True(code == 0, stderr);
        Assert.Contains("NOT A SPEED MEASUREMENT", stdout);
        Assert.Contains("CUDA emulator", stdout);
        Assert.DoesNotContain("MFU", stdout);
    }

    [Fact]
    public void Auto_never_picks_the_emulated_device()
    {
        Assert.SkipUnless(NativeLibraries.EmulatorSelected, $"{NativeLibraries.EmulatorVariable} is not set in this process (a real GPU, or no emulator built)");
        using var backends = BackendFactory.Create(DeviceKind.Auto, out var note);
        Assert.Equal("cpu", backends.Compute.Name);
        Assert.Null(backends.Gpu);
        Assert.Contains(EngineOption.Device, note.Options);
        Assert.Contains("--device cuda", FlagNames.Render(note));
    }

    /// <summary>The emulator's test programs: beside the library in build/emulator of this checkout.</summary>
    static string? FindBuilt(string program)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "build", "emulator", program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
