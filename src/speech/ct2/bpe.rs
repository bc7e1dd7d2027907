//! GPT-2 byte-level BPE alphabet: turns a vocabulary entry such as `Ġthe` back into the raw
//! bytes ` the` that whisper.cpp stores.
//!
//! GPT-2 maps each of the 256 byte values to a printable Unicode character so token strings
//! never contain whitespace or control characters: printable Latin-1 bytes stand for
//! themselves, the remaining 68 bytes are numbered from U+0100 in byte order.

/// Whether `byte` is one of the printable bytes GPT-2 keeps as its own character.
fn is_self_mapped(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff)
}

/// The 256-entry table: `table[byte]` is the character GPT-2 writes for `byte`.
pub fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next_shifted = 0x100u32;
    for (byte, slot) in (0..=u8::MAX).zip(table.iter_mut()) {
        *slot = if is_self_mapped(byte) {
            char::from(byte)
        } else {
            let c = char::from_u32(next_shifted).unwrap_or('\0');
            next_shifted += 1;
            c
        };
    }
    table
}

/// Inverse of [`byte_to_char_table`] for one character.
pub fn char_to_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if let Ok(byte) = u8::try_from(code) {
        return is_self_mapped(byte).then_some(byte);
    }
    // Shifted characters are numbered in byte order over the non-self-mapped bytes.
    let index = usize::try_from(code.checked_sub(0x100)?).ok()?;
    (0..=u8::MAX).filter(|&b| !is_self_mapped(b)).nth(index)
}

/// Decodes a whole token; `None` if it holds a character outside the alphabet.
pub fn decode_token(token: &str) -> Option<Vec<u8>> {
    token.chars().map(char_to_byte).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_characters() {
        let cases = [
            ('Ġ', b' '),
            ('Ċ', b'\n'),
            ('ĉ', b'\t'),
            ('Ā', 0x00),
            ('!', b'!'),
            ('ÿ', 0xff),
            ('Ń', 0xad),
        ];
        for (c, byte) in cases {
            assert_eq!(char_to_byte(c), Some(byte), "{c}");
            assert_eq!(byte_to_char_table()[usize::from(byte)], c);
        }
    }

    #[test]
    fn table_is_a_bijection() {
        let table = byte_to_char_table();
        for byte in 0..=u8::MAX {
            assert_eq!(char_to_byte(table[usize::from(byte)]), Some(byte));
        }
        let mut chars = table.to_vec();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 256);
    }

    #[test]
    fn tokens_outside_the_alphabet_are_rejected() {
        assert_eq!(decode_token("Ġthe").as_deref(), Some(&b" the"[..]));
        assert_eq!(decode_token("a b"), None);
        assert_eq!(decode_token("Ń").as_deref(), Some(&[0xad][..])); // last shifted byte
        assert_eq!(decode_token("ń"), None); // one past the 68 shifted bytes
        assert_eq!(decode_token("\u{ad}"), None); // soft hyphen is itself shifted
    }
}
