namespace Engine.Tests.Tokenizers;

/// <summary>
/// GPT-2's byte-to-character table (bytes_to_unicode in the original encoder.py): printable bytes map to themselves,
/// the rest to characters from U+0100 on, so every byte sequence is a string without spaces or control characters.
/// Byte-level BPE files (vocab.json, merges, tokenizer.json) are written in these characters.
/// </summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] CharOfByte = Build();

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    private static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
