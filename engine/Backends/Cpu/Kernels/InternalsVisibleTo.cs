using System.Runtime.CompilerServices;

// The kernel tests drive the GEMM driver, micro-kernels and tile planner directly.
[assembly: InternalsVisibleTo("Engine.Tests")]
