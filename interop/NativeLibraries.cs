using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Interop;

/// <summary>
/// One resolver for every NVIDIA and MPI library this binding calls. Declarations name a logical library
/// (<see cref="Cuda"/>, <see cref="Cublas"/>, …); the resolver maps it to versioned sonames (the unversioned .so
/// links exist only with a developer toolkit) and looks in the loader's path, CUDA_HOME, the usual install folders
/// and pip's wheels (nvidia/cu13/lib, nvidia/*/lib), so CUDA 12 and 13 layouts both work.
/// With ENGINE_CUDA_EMULATOR=1 the CUDA driver, cuBLAS, cuBLASLt and NCCL all resolve to the emulated device
/// (libengine_cuda_emulator.so, built from emulator/ beside the engine: docs/emulator.md), and nothing else selects it.
/// </summary>
public static class NativeLibraries
{
    public const string Cuda = "engine-cuda", Cublas = "engine-cublas", CublasLt = "engine-cublaslt", Nccl = "engine-nccl", Mpi = "engine-mpi";

    /// <summary>Sonames per logical library, newest first.</summary>
    static readonly Dictionary<string, string[]> Sonames = new()
    {
        [Cuda] = ["libcuda.so.1"],
        [Cublas] = ["libcublas.so.13", "libcublas.so.12"],
        [CublasLt] = ["libcublasLt.so.13", "libcublasLt.so.12"],
        [Nccl] = ["libnccl.so.2"],
        [Mpi] = ["libmpi.so.40"],
    };

    /// <summary>What to install or set when a library is missing, per logical library.</summary>
    static readonly Dictionary<string, string> Fix = new()
    {
        [Cuda] = "install the NVIDIA driver (libcuda.so.1 comes with it), or run with --device cpu",
        [Cublas] = "install the CUDA toolkit 12 or 13 or pip's nvidia-cublas wheel, or set CUDA_HOME to the toolkit",
        [CublasLt] = "install the CUDA toolkit 12 or 13 or pip's nvidia-cublas wheel, or set CUDA_HOME to the toolkit",
        [Nccl] = "install NCCL 2 (libnccl2 or pip's nvidia-nccl wheel)",
        [Mpi] = "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and launch with mpirun",
    };

    /// <summary>The environment variable that swaps the NVIDIA libraries for the emulated device: "1" selects it.</summary>
    public const string EmulatorVariable = "ENGINE_CUDA_EMULATOR";
    public const string EmulatorLibrary = "libengine_cuda_emulator.so";

    /// <summary>Whether this process runs the CUDA path on the emulated device (read when a library is first loaded).</summary>
    public static bool EmulatorSelected => Environment.GetEnvironmentVariable(EmulatorVariable) == "1";

    /// <summary>The emulator library beside the engine's assemblies, else under the repository's build/emulator; null if neither.</summary>
    public static string? EmulatorLibraryPath()
    {
        foreach (var folder in EmulatorFolders())
        {
            var path = Path.Combine(folder, EmulatorLibrary);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    static IEnumerable<string> EmulatorFolders()
    {
        yield return AppContext.BaseDirectory;
        if (Path.GetDirectoryName(typeof(NativeLibraries).Assembly.Location) is { Length: > 0 } assemblyFolder) yield return assemblyFolder;
        // A build tree: bin/<configuration>/<framework>/ under a project folder under the repository root.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            yield return Path.Combine(dir.FullName, "build", "emulator");
    }

    static readonly HashSet<string> EmulatedLibraries = [Cuda, Cublas, CublasLt, Nccl];

    static readonly Dictionary<string, nint> Loaded = new();
    static readonly object Gate = new();

#pragma warning disable CA2255 // a module initializer is the documented way to install a DllImport resolver early
    [ModuleInitializer]
    internal static void Install() => NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
#pragma warning restore CA2255

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        Sonames.ContainsKey(name) ? TryLoadLogical(name) ?? 0 : 0;

    /// <summary>Loads a logical library (cached) or returns null.</summary>
    public static nint? TryLoadLogical(string logical)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logical, out var cached)) return cached;
            var handle = EmulatorSelected && EmulatedLibraries.Contains(logical)
                ? (EmulatorLibraryPath() is { } path && NativeLibrary.TryLoad(path, out var emulator) ? emulator : null)
                : TryLoad(Sonames[logical]);
            if (handle is { } h) Loaded[logical] = h;
            return handle;
        }
    }

    /// <summary>Loads a logical library or throws <see cref="NativeLibraryMissingException"/> naming where it looked.</summary>
    public static nint Require(string logical)
    {
        if (TryLoadLogical(logical) is { } handle) return handle;
        if (EmulatorSelected && EmulatedLibraries.Contains(logical))
            throw new NativeLibraryMissingException([EmulatorLibrary], EmulatorFolders().Distinct().ToList(),
                $"{EmulatorVariable}=1 selects the emulated CUDA device, which is not built: run `cmake -S . -B build/kernels && cmake --build build/kernels` (g++ and cmake; no nvcc needed), then `dotnet build`");
        throw new NativeLibraryMissingException(Sonames[logical], SearchFolders(), Fix[logical]);
    }

    /// <summary>Tries each name in the loader's path, then in each folder; null when none loads.</summary>
    public static nint? TryLoad(params string[] names)
    {
        var folders = SearchFolders();
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
            foreach (var folder in folders)
                if (NativeLibrary.TryLoad(Path.Combine(folder, name), out handle)) return handle;
        }
        return null;
    }

    /// <summary>Existing folders searched after the loader's own path, in order.</summary>
    public static IReadOnlyList<string> SearchFolders()
    {
        var folders = new List<string>();
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } home)
            {
                folders.Add(Path.Combine(home, "lib64"));
                folders.Add(Path.Combine(home, "targets", "x86_64-linux", "lib"));
            }
        folders.AddRange(["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu"]);
        folders.AddRange(PipNvidiaFolders());
        return folders.Where(Directory.Exists).Distinct().ToList();
    }

    /// <summary>
    /// pip's CUDA wheels put libraries in site-packages/nvidia/cu13/lib (CUDA 13 wheels) or
    /// site-packages/nvidia/&lt;component&gt;/lib (CUDA 12 wheels).
    /// </summary>
    static IEnumerable<string> PipNvidiaFolders()
    {
        var sitePackages = new List<string>();
        if (Environment.GetEnvironmentVariable("VIRTUAL_ENV") is { Length: > 0 } venv) sitePackages.AddRange(Glob(Path.Combine(venv, "lib"), "python3*", "site-packages"));
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home) sitePackages.AddRange(Glob(Path.Combine(home, ".local", "lib"), "python3*", "site-packages"));
        sitePackages.AddRange(Glob("/usr/local/lib", "python3*", "dist-packages"));
        sitePackages.AddRange(Glob("/usr/local/lib", "python3*", "site-packages"));
        sitePackages.AddRange(Glob("/usr/lib", "python3*", "dist-packages"));
        foreach (var site in sitePackages)
        {
            var nvidia = Path.Combine(site, "nvidia");
            if (!Directory.Exists(nvidia)) continue;
            foreach (var component in Directory.EnumerateDirectories(nvidia).Order(StringComparer.Ordinal))
                yield return Path.Combine(component, "lib");
        }
    }

    static IEnumerable<string> Glob(string parent, string pattern, string child)
    {
        if (!Directory.Exists(parent)) return [];
        return Directory.EnumerateDirectories(parent, pattern).Order(StringComparer.Ordinal).Select(d => Path.Combine(d, child)).Where(Directory.Exists);
    }
}

/// <summary>A native library the chosen path needs is not installed; the message says what was tried and the fix.</summary>
public sealed class NativeLibraryMissingException(IReadOnlyList<string> names, IReadOnlyList<string> folders, string fix)
    : Exception($"{string.Join(" / ", names)} not found (searched the loader's path{(folders.Count > 0 ? ", " + string.Join(", ", folders) : "")}): {fix}")
{
    public IReadOnlyList<string> Names { get; } = names;
}
