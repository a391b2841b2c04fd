namespace Engine.Optim;

/// <summary>
/// How AdamW stores its two moments: fp32 (8 bytes per parameter), or block-wise 8-bit codes (about 2 bytes per
/// parameter; <see cref="BlockwiseMoments"/>). The update itself is AdamW's either way.
/// </summary>
public enum OptimizerKind
{
    AdamW = 0,
    AdamW8Bit = 1,
}
