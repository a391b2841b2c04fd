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

    /// <summary>
    /// One table lookup added to what is there: out[n,:] += table[ids[n],:]. BERT sums three (word, position, token
    /// type) and T5 uses one; keeping each lookup separate lets every table have its own ids.
    /// </summary>
    public static void AddRows(T* output, int* ids, T* table, int N, int C)
    {
        ParallelRows.For(N, n =>
        {
            T* o = output + (long)n * C;
            T* w = table + (long)ids[n] * C;
            for (int i = 0; i < C; i++) o[i] += w[i];
        });
    }

    /// <summary>
    /// dTable[ids[n],:] += dOut[n,:], sequential over n (a fixed order for repeated ids: bit-identical run to run).
    /// Rows whose id is <paramref name="skipId"/> add nothing: torch's padding_idx, which BERT's word table uses so
    /// the [PAD] row learns only through the tied output layer. −1 skips nothing.
    /// </summary>
    public static void AddRowsBackward(T* dTable, T* dOutput, int* ids, int N, int C, int skipId)
    {
        for (int n = 0; n < N; n++)
        {
            if (ids[n] == skipId) continue;
            T* d = dOutput + (long)n * C;
            T* dw = dTable + (long)ids[n] * C;
            for (int i = 0; i < C; i++) dw[i] += d[i];
        }
    }
}
