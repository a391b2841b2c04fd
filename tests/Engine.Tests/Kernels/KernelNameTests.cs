using System.Text.RegularExpressions;

namespace Engine.Tests.Kernels;

/// <summary>
/// The CUDA backend finds its kernels by name in the fatbin, so a name it launches that kernels/*.cu does not define
/// fails only on a GPU. This reads both sources (no GPU, no nvcc needed): every literal kernel name the backend
/// launches, and every storage entry of each value kernel it picks by storage (ValueKernel: _f32, _bf16, _f16), must
/// be an extern "C" __global__ function of kernels/*.cu.
/// </summary>
public class KernelNameTests
{
    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "kernels")) && Directory.Exists(Path.Combine(dir.FullName, "engine", "Backends", "Cuda")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"no repository root (kernels/ and engine/Backends/Cuda/) above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void Every_kernel_the_CUDA_backend_launches_is_defined_in_kernels()
    {
        string root = RepositoryRoot();
        var defined = Directory.GetFiles(Path.Combine(root, "kernels"), "*.cu")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"extern ""C"" __global__ void(?: __launch_bounds__\([^)]*\))?\s+(\w+)\(").Select(m => m.Groups[1].Value))
            .ToHashSet();
        Assert.Contains("softmax_xent_bf16", defined); // the pattern finds the entries at all

        var backend = string.Join("\n", Directory.GetFiles(Path.Combine(root, "engine", "Backends", "Cuda"), "*.cs").Select(File.ReadAllText));
        var launched = Regex.Matches(backend, @"""(\w+_(?:f32|bf16|f16|u16))""").Select(m => m.Groups[1].Value).ToList();
        foreach (Match m in Regex.Matches(backend, @"ValueKernel\(""(\w+)"""))
        {
            string name = m.Groups[1].Value;
            launched.Add(name + "_f32");
            launched.Add(name + "_bf16");
            // The tensor-core attention multiplies bf16 operands, which fp16 values do not fit: TensorCoreFlash never
            // picks it for fp16 storage, so it has no _f16 entry.
            if (!name.EndsWith("_tc")) launched.Add(name + "_f16");
        }
        Assert.True(launched.Count > 60, $"only {launched.Count} kernel names found in engine/Backends/Cuda");
        var missing = launched.Where(n => !defined.Contains(n)).Distinct().ToList();
        Assert.True(missing.Count == 0, $"launched but not defined in kernels/*.cu: {string.Join(", ", missing)}");
    }
}
