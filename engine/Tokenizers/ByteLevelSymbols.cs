namespace Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-to-character table (bytes_to_unicode in its encoder.py): the printable bytes ('!'..'~', '¡'..'¬',
/// '®'..'ÿ') stand for themselves and the other 68 (space, controls, 0x7F–0xA0, 0xAD) for U+0100 onwards in byte
/// order, so a space is 'Ġ' and a newline 'Ċ'. Byte-level BPE files spell every token in these characters, which
/// keeps tokens free of spaces (merges.txt separates a pair with one) and of control characters.
/// </summary>
public static class ByteLevelSymbols
{
    static readonly char[] CharOfByte = Build();

    /// <summary>The character that spells byte <paramref name="b"/> in vocab.json and merges.txt.</summary>
    public static char Of(byte b) => CharOfByte[b];

    /// <summary>A byte sequence in the byte-level alphabet.</summary>
    public static string Spell(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes a byte-level spelling stands for; null when a character is not one of the 256 symbols
    /// (a special token's literal text).</summary>
    public static byte[]? TryUnspell(string spelling)
    {
        var bytes = new byte[spelling.Length];
        for (int i = 0; i < spelling.Length; i++)
        {
            int b = Array.IndexOf(CharOfByte, spelling[i]);
            if (b < 0) return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    static char[] Build()
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
