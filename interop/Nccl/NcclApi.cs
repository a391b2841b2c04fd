using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Engine.Interop.Nccl;

/// <summary>
/// NCCL 2 entry points (nccl.h): version, unique id, communicator set-up and the collectives the distributed
/// strategies use. Every collective is queued on a CUDA stream; group calls fuse several into one launch.
/// </summary>
public static unsafe partial class NcclApi
{
    const string Lib = NativeLibraries.Nccl;

    [LibraryImport(Lib)] public static partial int ncclGetVersion(int* version);
    [LibraryImport(Lib)] public static partial int ncclGetUniqueId(NcclUniqueId* id);
    [LibraryImport(Lib)] public static partial int ncclCommInitRank(nint* comm, int worldSize, NcclUniqueId id, int rank);
    [LibraryImport(Lib)] public static partial int ncclCommDestroy(nint comm);
    /// <summary>NCCL ≥ 2.18. config may be null (the parent's settings); color −1 (NCCL_SPLIT_NOCOLOR) joins no group.</summary>
    [LibraryImport(Lib)] public static partial int ncclCommSplit(nint comm, int color, int key, nint* newComm, void* config);
    [LibraryImport(Lib)] public static partial int ncclCommCount(nint comm, int* count);
    [LibraryImport(Lib)] public static partial int ncclCommUserRank(nint comm, int* rank);
    [LibraryImport(Lib)] public static partial int ncclCommAbort(nint comm);
    [LibraryImport(Lib)] public static partial int ncclCommGetAsyncError(nint comm, int* asyncError);
    [LibraryImport(Lib)] public static partial nint ncclGetErrorString(int result);
    [LibraryImport(Lib)] public static partial int ncclAllReduce(ulong send, ulong receive, nuint count, int type, int op, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclAllGather(ulong send, ulong receive, nuint sendCount, int type, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclReduceScatter(ulong send, ulong receive, nuint receiveCount, int type, int op, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclBroadcast(ulong send, ulong receive, nuint count, int type, int root, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclGroupStart();
    [LibraryImport(Lib)] public static partial int ncclGroupEnd();
}

/// <summary>ncclUniqueId: 128 opaque bytes that rank 0 makes and every rank must receive (over MPI or TCP).</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
public unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    fixed byte data[Bytes];

    public byte[] ToArray() { fixed (byte* p = data) return new ReadOnlySpan<byte>(p, Bytes).ToArray(); }

    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Bytes) throw new ArgumentException($"an NCCL unique id is {Bytes} bytes, got {bytes.Length}");
        var id = new NcclUniqueId();
        bytes.CopyTo(new Span<byte>(id.data, Bytes));
        return id;
    }
}

/// <summary>nccl.h enums: ncclDataType_t and ncclRedOp_t.</summary>
public static class NcclConstants
{
    public const int Int8 = 0, Uint8 = 1, Int32 = 2, Uint32 = 3, Int64 = 4, Uint64 = 5, Float16 = 6, Float32 = 7, Float64 = 8, Bfloat16 = 9;
    public const int Sum = 0, Prod = 1, Max = 2, Min = 3, Avg = 4;
}

public sealed class NcclException(string call, int result, string detail)
    : Exception($"{call} failed: {NcclResult.Name(result)} ({result}){(detail.Length > 0 ? ": " + detail : "")}")
{
    public string Call { get; } = call;
    public int Result { get; } = result;
}

public static class NcclResult
{
    public static void Check(int result, string call)
    {
        if (result == 0) return;
        string detail = "";
        try { detail = Marshal.PtrToStringUTF8(NcclApi.ncclGetErrorString(result)) ?? ""; }
        catch (DllNotFoundException) { }
        throw new NcclException(call, result, detail);
    }

    public static string Name(int result) => result switch
    {
        0 => "ncclSuccess",
        1 => "ncclUnhandledCudaError",
        2 => "ncclSystemError",
        3 => "ncclInternalError",
        4 => "ncclInvalidArgument",
        5 => "ncclInvalidUsage",
        6 => "ncclRemoteError",
        7 => "ncclInProgress",
        _ => $"ncclResult_t {result}",
    };

    /// <summary>NCCL_VERSION_CODE as a.b.c (2.28.3 is 22803; versions before 2.9 used 1000·major + 100·minor + patch).</summary>
    public static string VersionText(int code) =>
        code >= 10000 ? $"{code / 10000}.{code / 100 % 100}.{code % 100}" : $"{code / 1000}.{code / 100 % 10}.{code % 100}";
}

/// <summary>An NCCL communicator, destroyed once when disposed.</summary>
public sealed class NcclCommHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    NcclCommHandle(nint handle) : base(true) => SetHandle(handle);

    public static unsafe NcclCommHandle InitRank(int worldSize, NcclUniqueId id, int rank)
    {
        NativeLibraries.Require(NativeLibraries.Nccl);
        nint comm;
        NcclResult.Check(NcclApi.ncclCommInitRank(&comm, worldSize, id, rank), $"ncclCommInitRank(rank {rank} of {worldSize})");
        return new NcclCommHandle(comm);
    }

    /// <summary>
    /// The sub-communicator of the ranks that pass the same color, ordered by key (ncclCommSplit: collective over the
    /// parent's ranks). Needs NCCL 2.18 or later; older libraries are named in the error.
    /// </summary>
    public unsafe NcclCommHandle Split(int color, int key)
    {
        if (color < 0) throw new ArgumentOutOfRangeException(nameof(color), color, "split colors are non-negative");
        nint sub;
        try { NcclResult.Check(NcclApi.ncclCommSplit(handle, color, key, &sub, null), $"ncclCommSplit(color {color}, key {key})"); }
        catch (EntryPointNotFoundException e)
        {
            int version = 0;
            NcclApi.ncclGetVersion(&version);
            throw new NcclException("ncclCommSplit", 5, $"this libnccl ({NcclResult.VersionText(version)}) predates ncclCommSplit; NCCL 2.18 or later is needed ({e.Message})");
        }
        return new NcclCommHandle(sub);
    }

    /// <summary>This process's rank in the communicator.</summary>
    public unsafe int Rank { get { int rank; NcclResult.Check(NcclApi.ncclCommUserRank(handle, &rank), "ncclCommUserRank"); return rank; } }

    /// <summary>How many ranks the communicator joins.</summary>
    public unsafe int Count { get { int count; NcclResult.Check(NcclApi.ncclCommCount(handle, &count), "ncclCommCount"); return count; } }

    protected override bool ReleaseHandle() { NcclApi.ncclCommDestroy(handle); return true; }
}
