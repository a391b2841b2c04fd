namespace Engine.Checkpoints;

/// <summary>
/// A state <see cref="Checkpoint.ReadState{TState}"/> reads that checks its own values once read (a model shape the
/// engine can build, counts that are not negative), so a damaged trainer_state.json is refused by name at the door.
/// </summary>
public interface ICheckedState
{
    /// <summary>Throws a <see cref="FileFormatException"/> naming <paramref name="file"/> and the key at fault.</summary>
    void Check(string file);
}
