namespace Engine.Tensors;

/// <summary>Argument checks shared by the backends, so a CPU run and a GPU run reject the same mistakes alike.</summary>
public static class SliceChecks
{
    /// <summary>Elementwise ops read and write the same count; a shorter output would be overrun on the GPU silently.</summary>
    public static void SameLength(string op, string first, long firstLength, string second, long secondLength)
    {
        if (firstLength != secondLength)
            throw new ArgumentException($"{op}: {first} holds {firstLength} elements but {second} holds {secondLength}; they must match");
    }
}
