//! Text a user typed, made safe to show others: no invisible or direction-changing characters,
//! and never so long that it crowds out the message it appears in.

/// The most characters of a user's value an error message repeats.
pub const ECHO_MAX: usize = 40;

/// A user's value as an error message repeats it: at most [`ECHO_MAX`] characters.
pub fn echo(raw: &str) -> String {
    if raw.chars().count() <= ECHO_MAX {
        raw.to_owned()
    } else {
        let mut cut: String = raw.chars().take(ECHO_MAX).collect();
        cut.push('…');
        cut
    }
}

/// Characters that change what others read without being seen: control characters, Unicode
/// format characters (zero-width spaces and joiners, bidi overrides and isolates, the BOM, tag
/// characters), and blank look-alikes (braille blank, Hangul fillers).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c as u32,
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180E
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0x2800
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF9..=0xFFFB
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// The first character a user may not put in a command, if any: a hidden one (see
/// [`is_hidden`]; tabs and newlines between words are fine) or a backtick, which would end the
/// code span their value is shown in.
pub fn first_forbidden(text: &str) -> Option<char> {
    text.chars()
        .find(|&c| c == '`' || (is_hidden(c) && !matches!(c, ' ' | '\t' | '\n' | '\r')))
}

/// Up to three of `candidates` close to `name` (a "did you mean"), best first: alike by
/// Jaro-Winkler (0.8 or more, case ignored), or one holding the other.
pub fn close_names<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|candidate| {
            let lower = candidate.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if lower.contains(&wanted) || wanted.contains(&lower) {
                score = score.max(0.9);
            }
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut names: Vec<String> = scored.into_iter().map(|(_, n)| n.to_owned()).collect();
    names.dedup();
    names.truncate(3);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened_when_echoed() {
        assert_eq!(echo("petstore"), "petstore");
        let long = "9".repeat(5000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), ECHO_MAX + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(echo(&"é".repeat(ECHO_MAX)), "é".repeat(ECHO_MAX));
    }

    #[test]
    fn invisible_bidi_and_control_characters_and_backticks_are_forbidden() {
        for bad in [
            "pet\u{200B}store",
            "pet\u{202E}erots",
            "\u{2800}",
            "a\u{1b}[31m",
            "a\u{7}",
            "a`b",
            "\u{FEFF}x",
            "x\u{E0041}",
            "\u{2066}x\u{2069}",
        ] {
            assert!(first_forbidden(bad).is_some(), "{bad:?}");
        }
        for good in [
            "petstore prod 5 10",
            "pet-store\tprod\n5 10",
            "café",
            "日本語",
        ] {
            assert_eq!(first_forbidden(good), None, "{good:?}");
        }
    }
}
