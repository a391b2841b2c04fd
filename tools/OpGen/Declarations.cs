namespace OpGen;

/// <summary>One ops/FOLDER/NAME.ops file: ops and the kernels that implement them on CUDA (in NAME.cu beside it).</summary>
/// <param name="Folder">The op family's folder under ops/ (FOLDER).</param>
sealed record OpsFile(string Path, string Folder, string Stem, IReadOnlyList<Op> Ops, IReadOnlyList<Kernel> Kernels, IReadOnlyList<StructMapping> Structs)
{
    /// <summary>FOLDER/NAME: where the file is under ops/ (what the generated files name it by).</summary>
    public string Name => $"{Folder}/{Stem}";
}

/// <summary>How a float slice argument is used: read, overwritten, read and written (accumulated into), or either of the
/// last two as the op's GradientWrite argument says at run time (Write).</summary>
enum SliceRole { In, Out, InOut, Write }

/// <summary>What a float slice holds under mixed precision: values in the training precision (16-bit storage), fp32
/// state (statistics, gradients of weights), or one of attention's q, k, v views of a packed buffer (values).</summary>
enum SliceKind { None, Values, Fp32, Packed }

/// <summary>An op argument; CsType is the C# type (Slice&lt;float&gt; for every values/fp32/packed argument).</summary>
sealed record OpParameter(string Name, string CsType, SliceKind Kind, SliceRole Role);

/// <summary>How MixedPrecisionBackend runs the op (see MixedPrecisionWriter).</summary>
enum MixedRouting
{
    /// <summary>Directly on the backend underneath when it takes the family on 16-bit storage and every argument is
    /// in the storage its kind asks for; otherwise with its 16-bit arguments staged through fp32.</summary>
    Direct,
    /// <summary>Directly whenever the backend underneath takes the family, whatever the arguments' storage (matrix
    /// products: cuBLAS reads each operand as it is stored).</summary>
    AnyStorage,
    /// <summary>Always staged (an op no backend runs on 16-bit storage).</summary>
    Staged,
    /// <summary>Straight to the backend underneath (the fp32 side of mixed precision: casts, master weights).</summary>
    Passthrough,
    /// <summary>Written by hand in MixedPrecisionBackend.cs.</summary>
    Custom,
}

/// <param name="CudaKernel">The kernel a generated CudaBackend member launches over the op's elements (the `cuda`
/// clause), or null when CudaBackend implements the op by hand.</param>
/// <param name="CpuMethod">The static method a generated CpuBackend member calls (the `cpu` clause), or null.</param>
sealed record Op(string Name, string ReturnType, IReadOnlyList<OpParameter> Parameters, IReadOnlyList<string> Doc,
    string Family, string Profile, MixedRouting Mixed, string? DefaultBody, string? CudaKernel, string? CpuMethod, string Source)
{
    public bool ReturnsValue => ReturnType != "void";

    /// <summary>The type of the argument that picks overwrite or accumulate for the op's `write` slices.</summary>
    public const string WriteModeType = "GradientWrite";

    /// <summary>The name of the op's GradientWrite argument (null when it has none).</summary>
    public string? WriteMode => Parameters.FirstOrDefault(p => p.CsType == WriteModeType)?.Name;
}

/// <summary>A kernel argument as the .cu entry declares it; T stands for the value type of a per-storage kernel.</summary>
sealed record KernelParameter(string CppType, string Name)
{
    public bool IsValuePointer => CppType.Replace("const", "").Trim() == "T*";
    public bool IsPointer => CppType.EndsWith('*');
}

/// <summary>
/// A launchable kernel: one extern "C" entry per storage in <see cref="Storages"/> (name_f32, name_bf16, name_f16,
/// T = float, bf16, fp16), or a single entry named <see cref="Name"/> when Storages is empty. <see cref="Call"/> is the
/// device function the entry calls (its arguments are the entry's, in order, unless the call spells them out).
/// </summary>
sealed record Kernel(string Name, IReadOnlyList<string> Storages, IReadOnlyList<KernelParameter> Parameters, string Call,
    string? LaunchBounds, string Source)
{
    public bool PerStorage => Storages.Count > 0;
    public IEnumerable<string> EntryNames => PerStorage ? Storages.Select(s => $"{Name}_{s}") : [Name];
}

/// <summary>A struct a kernel takes by value and the C# struct with its layout.</summary>
sealed record StructMapping(string CppType, string CsType);

static class Storages
{
    public static readonly string[] All = ["f32", "bf16", "f16"];

    public static string CppValueType(string storage) => storage switch
    {
        "f32" => "float",
        "bf16" => "bf16",
        "f16" => "fp16",
        _ => throw new ArgumentException($"unknown storage {storage}"),
    };
}
