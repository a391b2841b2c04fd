namespace Engine.Tensors;

/// <summary>
/// How a backward op writes the input gradient it computes, where its declaration marks that gradient `write`
/// (ops/README.md): the matrix product's dInput (<see cref="IBackend.MatmulBackward"/>) and the GELU family's
/// (<see cref="IBackend.GeluBackward"/>, <see cref="IBackend.GeluErfBackward"/>, <see cref="IBackend.GatedGeluBackward"/>).
/// Backward ops accumulate by default, so gradients from several branches add up; a caller that would otherwise zero
/// a fresh gradient buffer just before the op writes it asks for <see cref="Overwrite"/> instead and saves the zero
/// pass (and, under mixed precision, widening the stale 16-bit values). Both give the same numbers: x where 0 + x,
/// except that an element whose contribution is −0 stays −0 rather than becoming +0 (equal under ==).
/// </summary>
public enum GradientWrite
{
    /// <summary>gradient += contribution (the buffer holds other branches' shares, or zeros).</summary>
    Accumulate = 0,
    /// <summary>gradient = contribution: the op writes every element and never reads the buffer's old values.</summary>
    Overwrite = 1,
}
