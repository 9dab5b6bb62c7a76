//! Source text: decoding a migration file and mapping byte offsets to 1-based positions.

use std::ops::Range;

/// A 1-based line and column (columns count characters, as editors and rustc do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

/// The decoded text of one migration, with a line index.
///
/// A UTF-8 byte-order mark is removed (it is not part of the SQL); bytes that are not UTF-8
/// are replaced by U+FFFD and remembered so that the engine can report them.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    text: String,
    line_starts: Vec<usize>,
    /// For each character longer than one byte: its offset, and the bytes beyond the first of
    /// it and of every such character before it. Columns count characters in O(log n).
    wide: Vec<(usize, usize)>,
    /// Byte offsets (in `text`) where invalid UTF-8 was replaced.
    invalid_utf8: Vec<usize>,
}

impl SourceFile {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut text = String::with_capacity(bytes.len());
        let mut invalid_utf8 = Vec::new();
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                invalid_utf8.push(text.len());
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
        Self::build(text, invalid_utf8)
    }

    fn build(text: String, invalid_utf8: Vec<usize>) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let wide = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .filter(|(_, c)| !c.is_ascii())
                .scan(0, |extra, (i, c)| {
                    *extra += c.len_utf8() - 1;
                    Some((i, *extra))
                })
                .collect()
        };
        Self {
            text,
            line_starts,
            wide,
            invalid_utf8,
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn invalid_utf8(&self) -> &[usize] {
        &self.invalid_utf8
    }

    /// The 1-based line of a byte offset (clamped to the text).
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset.min(self.text.len()))
    }

    /// The 1-based position of a byte offset (clamped to the text).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line(offset);
        let start = self.line_starts[line - 1];
        let column =
            offset - start - (self.extra_bytes_before(offset) - self.extra_bytes_before(start)) + 1;
        Position { line, column }
    }

    /// The bytes beyond the first of the characters that start before `offset`.
    fn extra_bytes_before(&self, offset: usize) -> usize {
        match self.wide.partition_point(|&(i, _)| i < offset) {
            0 => 0,
            n => self.wide[n - 1].1,
        }
    }

    /// Start and end positions of a byte range; the end is the position of its last character.
    pub(crate) fn span(&self, range: &Range<usize>) -> (Position, Position) {
        let start = self.position(range.start);
        let last = if range.end > range.start {
            let last = floor_char_boundary(&self.text, range.end.min(self.text.len()) - 1);
            last.max(range.start)
        } else {
            range.start
        };
        (start, self.position(last))
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let file = SourceFile::from_bytes("ab\r\nécd\nx".as_bytes());
        assert_eq!(file.position(0), Position { line: 1, column: 1 });
        assert_eq!(file.position(4), Position { line: 2, column: 1 });
        // "é" is two bytes: 'c' is the second character of line 2.
        assert_eq!(file.position(6), Position { line: 2, column: 2 });
        assert_eq!(file.position(9), Position { line: 3, column: 1 });
        assert_eq!(file.position(100), Position { line: 3, column: 2 });
    }

    #[test]
    fn bom_is_removed_and_invalid_bytes_are_remembered() {
        let file = SourceFile::from_bytes(b"\xEF\xBB\xBFselect 1;\n\xFF;");
        assert!(file.text().starts_with("select"));
        assert_eq!(file.invalid_utf8(), &[10]);
        assert_eq!(file.position(10), Position { line: 2, column: 1 });
    }
}
