//! Positions in a document as the client counts them: line and character, where a character
//! is a UTF-16 code unit (the protocol's default) or a UTF-8 byte (when the client offers it
//! and the server picks it).

use lsp_types::{Position, PositionEncodingKind, Range, TextDocumentContentChangeEvent};

/// The unit of `Position::character` negotiated with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Utf16,
}

impl Encoding {
    /// UTF-8 when the client offers it (counting bytes matches the engine's offsets), UTF-16
    /// otherwise, which every client supports.
    pub(crate) fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub(crate) fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }
    }

    fn width(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
        }
    }
}

/// The start of each line of a text (lines end at `\n`; a `\r` before it ends the line too).
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    encoding: Encoding,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str, encoding: Encoding) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text,
            starts,
            encoding,
        }
    }

    /// The position of a byte offset (clamped to the text, moved back to a character boundary).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character = self.text[start..offset]
            .chars()
            .map(|c| self.encoding.width(c))
            .sum::<usize>();
        Position::new(to_u32(line), to_u32(character))
    }

    /// The range of a byte range.
    pub(crate) fn range(&self, range: &std::ops::Range<usize>) -> Range {
        Range::new(self.position(range.start), self.position(range.end))
    }

    /// The byte offset of a position. A character past the end of its line means the end of
    /// the line, a line past the end of the text the end of the text, and a position inside a
    /// character (half of a surrogate pair) the start of that character.
    pub(crate) fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |next| next - 1);
        let line = self.text[start..end].trim_end_matches('\r');
        let mut units = 0;
        for (i, c) in line.char_indices() {
            units += self.encoding.width(c);
            if units > position.character as usize {
                return start + i;
            }
        }
        start + line.len()
    }
}

/// Apply the changes of a `didChange` notification, in order, to a document's text.
pub(crate) fn apply(
    text: &mut String,
    changes: Vec<TextDocumentContentChangeEvent>,
    encoding: Encoding,
) {
    for change in changes {
        match change.range {
            Some(range) => {
                let lines = Lines::new(text, encoding);
                let start = lines.offset(range.start);
                let end = lines.offset(range.end).max(start);
                text.replace_range(start..end, &change.text);
            }
            None => *text = change.text,
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "-- 🚀 é\nALTER TABLE café DROP COLUMN x;\r\nSELECT 1;";

    #[test]
    fn positions_count_the_negotiated_units() {
        let drop = TEXT.find("DROP").unwrap();
        let after_e = TEXT.find("é\n").unwrap() + 'é'.len_utf8();
        let utf16 = Lines::new(TEXT, Encoding::Utf16);
        let utf8 = Lines::new(TEXT, Encoding::Utf8);
        // The rocket is two UTF-16 units and four UTF-8 bytes.
        assert_eq!(utf16.position(after_e), Position::new(0, 7));
        assert_eq!(utf8.position(after_e), Position::new(0, 10));
        assert_eq!(utf16.position(drop), Position::new(1, 17));
        assert_eq!(utf8.position(drop), Position::new(1, 18));
        for lines in [&utf16, &utf8] {
            for offset in [0, after_e, drop, TEXT.len()] {
                assert_eq!(lines.offset(lines.position(offset)), offset);
            }
        }
    }

    #[test]
    fn offsets_are_clamped_to_lines_and_characters() {
        let lines = Lines::new(TEXT, Encoding::Utf16);
        // Inside the rocket's surrogate pair: the rocket's start.
        assert_eq!(lines.offset(Position::new(0, 4)), 3);
        // Past the end of a line ending in CRLF: before the CR.
        let crlf = TEXT.find('\r').unwrap();
        assert_eq!(lines.offset(Position::new(1, 500)), crlf);
        assert_eq!(lines.offset(Position::new(9, 0)), TEXT.len());
        // Inside a character, from a byte offset: its start.
        assert_eq!(lines.position(4), Position::new(0, 3));
    }

    #[test]
    fn changes_apply_in_order() {
        let mut text = "SELECT 1;\n-- 🚀\nSELECT 2;".to_owned();
        let change = |range: Option<Range>, text: &str| TextDocumentContentChangeEvent {
            range,
            range_length: None,
            text: text.to_owned(),
        };
        apply(
            &mut text,
            vec![
                change(
                    Some(Range::new(Position::new(1, 5), Position::new(1, 5))),
                    " ok",
                ),
                change(
                    Some(Range::new(Position::new(2, 7), Position::new(2, 8))),
                    "42",
                ),
            ],
            Encoding::Utf16,
        );
        assert_eq!(text, "SELECT 1;\n-- 🚀 ok\nSELECT 42;");
        apply(&mut text, vec![change(None, "SELECT 3;")], Encoding::Utf8);
        assert_eq!(text, "SELECT 3;");
    }
}
