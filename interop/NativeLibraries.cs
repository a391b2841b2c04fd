using System.Runtime.InteropServices;

namespace Engine.Interop;

/// <summary>
/// Finds the NVIDIA libraries by their versioned sonames (the unversioned .so links exist only with a developer
/// toolkit) in the loader's path, CUDA_HOME and the usual install folders, across CUDA 12 and 13 layouts.
/// </summary>
public static class NativeLibraries
{
    static readonly string[] Folders =
    {
        Environment.GetEnvironmentVariable("CUDA_HOME") is { Length: > 0 } home ? Path.Combine(home, "lib64") : "",
        "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu",
    };

    /// <summary>Tries each name in the loader's path, then in each known folder; null when none loads.</summary>
    public static nint? TryLoad(params string[] names)
    {
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
            foreach (var folder in Folders)
                if (folder.Length > 0 && NativeLibrary.TryLoad(Path.Combine(folder, name), out handle)) return handle;
        }
        return null;
    }
}
