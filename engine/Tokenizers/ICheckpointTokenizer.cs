namespace Engine.Tokenizers;

/// <summary>
/// A tokenizer made for one run (a word vocabulary built from its text, a vocabulary grown for continued
/// pre-training): its files travel inside every checkpoint of the run, and <see cref="TokenizerFactory.Resolve(string, string)"/>
/// reads them back from the checkpoint folder by the run's spec name.
/// </summary>
public interface ICheckpointTokenizer : ITokenizer
{
    /// <summary>Writes the tokenizer's files into <paramref name="folder"/>.</summary>
    void Save(string folder);
}
