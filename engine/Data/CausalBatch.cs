namespace Engine.Data;

/// <summary>
/// One batch for causal language modelling, row-major [Sequences, T]: Targets[r, t] is the token after Inputs[r, t].
/// </summary>
public sealed record CausalBatch(int[] Inputs, int[] Targets, int Sequences, int T);
