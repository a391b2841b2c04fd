using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>Token + learned position embedding: out[b,t,:] = tokenTable[token[b,t],:] + positionTable[t,:].</summary>
public static unsafe class Embedding<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* output, int* tokens, T* tokenTable, T* positionTable, int B, int T_, int C)
    {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T_; t++)
            {
                T* o = output + ((long)b * T_ + t) * C;
                T* w = tokenTable + (long)tokens[b * T_ + t] * C;
                T* p = positionTable + (long)t * C;
                for (int i = 0; i < C; i++) o[i] = w[i] + p[i];
            }
    }

    /// <summary>
    /// Accumulates into both tables. Sequential over (b, t) so the sum into a repeated token's row has one fixed
    /// order: the result is bit-identical run to run (resume promises it).
    /// </summary>
    public static void Backward(T* dTokenTable, T* dPositionTable, T* dOutput, int* tokens, int B, int T_, int C)
    {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T_; t++)
            {
                T* d = dOutput + ((long)b * T_ + t) * C;
                T* dw = dTokenTable + (long)tokens[b * T_ + t] * C;
                T* dp = dPositionTable + (long)t * C;
                for (int i = 0; i < C; i++) { dw[i] += d[i]; dp[i] += d[i]; }
            }
    }
}
