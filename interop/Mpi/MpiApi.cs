using System.Runtime.InteropServices;

namespace Engine.Interop.Mpi;

/// <summary>
/// Open MPI entry points (mpi.h) through libmpi.so.40. In Open MPI, MPI_Comm, MPI_Datatype and MPI_Op are pointers
/// to exported globals (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, …): <see cref="MpiHandles"/> looks
/// them up. MPI_IN_PLACE is (void*)1 and MPI_STATUS_IGNORE is NULL there. Counts are C ints: callers split larger
/// buffers.
/// </summary>
public static unsafe partial class MpiApi
{
    const string Lib = NativeLibraries.Mpi;
    public static readonly void* InPlace = (void*)1;

    [LibraryImport(Lib)] public static partial int MPI_Initialized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);
    [LibraryImport(Lib)] public static partial int MPI_Finalize();
    [LibraryImport(Lib)] public static partial int MPI_Abort(nint comm, int code);
    [LibraryImport(Lib)] public static partial int MPI_Comm_rank(nint comm, int* rank);
    [LibraryImport(Lib)] public static partial int MPI_Comm_size(nint comm, int* size);
    [LibraryImport(Lib)] public static partial int MPI_Comm_split(nint comm, int color, int key, nint* newComm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_free(nint* comm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_set_errhandler(nint comm, nint handler);
    [LibraryImport(Lib)] public static partial int MPI_Error_string(int code, byte* text, int* length);
    [LibraryImport(Lib)] public static partial int MPI_Barrier(nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Bcast(void* buffer, int count, nint type, int root, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Allreduce(void* send, void* receive, int count, nint type, nint op, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Reduce_scatter_block(void* send, void* receive, int receiveCount, nint type, nint op, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Allgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Ibarrier(nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Ireduce_scatter_block(void* send, void* receive, int receiveCount, nint type, nint op, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Iallgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Wait(nint* request, void* status);
    [LibraryImport(Lib)] public static partial int MPI_Test(nint* request, int* flag, void* status);

    public const int ThreadSerialized = 2;
}

/// <summary>The Open MPI globals that stand for predefined handles, looked up once from the loaded library.</summary>
public static class MpiHandles
{
    static readonly Lazy<nint> Library = new(() => NativeLibraries.Require(NativeLibraries.Mpi));

    static nint Export(string name) => NativeLibrary.GetExport(Library.Value, name);

    public static nint CommWorld => Export("ompi_mpi_comm_world");
    public static nint Float => Export("ompi_mpi_float");
    public static nint Double => Export("ompi_mpi_double");
    public static nint Byte => Export("ompi_mpi_byte");
    public static nint Int64 => Export("ompi_mpi_int64_t");
    public static nint Sum => Export("ompi_mpi_op_sum");
    public static nint Max => Export("ompi_mpi_op_max");
    public static nint ErrorsReturn => Export("ompi_mpi_errors_return");
}

/// <summary>An MPI call failed; the message carries the call and MPI's own error text.</summary>
public sealed class MpiException(string call, int code, string text) : Exception($"{call} failed: MPI error {code}: {text}")
{
    public string Call { get; } = call;
    public int Code { get; } = code;
}

public static unsafe class MpiError
{
    public static void Check(int code, string call)
    {
        if (code == 0) return;
        string text = "";
        try
        {
            byte* buffer = stackalloc byte[512];
            int length = 0;
            if (MpiApi.MPI_Error_string(code, buffer, &length) == 0) text = Marshal.PtrToStringUTF8((nint)buffer, length);
        }
        catch (DllNotFoundException) { }
        throw new MpiException(call, code, text);
    }
}
