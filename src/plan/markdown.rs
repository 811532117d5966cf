//! Markdown -> a small block tree. The only module that uses pulldown-cmark.
//!
//! The tree keeps just what plan conventions need: headings, paragraphs, lists (with task
//! state and nesting), tables (with the source cell count of every row) and byte ranges for
//! all of them. Inline markup is stripped to its text (bold, emphasis, code spans, links).
//! Nesting is bounded: containers deeper than [`MAX_DEPTH`] are dropped and reported, so a
//! hostile file can neither blow the stack here nor when the tree is dropped.
//!
//! Texts borrow from the parsed source while they are one piece of it (most headings, cells
//! and list items), so the tree costs few allocations; the text of paragraphs outside list
//! items is not kept (nothing reads it).

use std::borrow::Cow;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Deepest nesting of lists, items and block quotes that is kept.
pub(crate) const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block<'a> {
    pub kind: BlockKind<'a>,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlockKind<'a> {
    Heading {
        level: u8,
        text: Cow<'a, str>,
    },
    /// A paragraph outside list items (its text is not kept).
    Paragraph,
    List {
        ordered: bool,
        items: Vec<Item<'a>>,
    },
    Table {
        header: Vec<Cow<'a, str>>,
        rows: Vec<Row<'a>>,
    },
    /// Code, HTML, rules: content storypack does not interpret.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// `Some(checked)` for a task-list item.
    pub checked: Option<bool>,
    /// Byte range of a task-list item's marker (`[ ]`, `[x]`) in the file.
    pub marker: Option<(usize, usize)>,
    /// The item's own text (its paragraphs, joined by newlines), markup stripped.
    pub text: Cow<'a, str>,
    /// Nested lists and other blocks.
    pub children: Vec<Block<'a>>,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row<'a> {
    pub cells: Vec<Cow<'a, str>>,
    /// How many cells the row has in the source (pulldown-cmark pads or truncates rows to
    /// the header's width; this is what the author wrote).
    pub source_cells: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub blocks: Vec<Block<'a>>,
    /// Byte offset of the first construct dropped for being nested too deep.
    pub too_deep_at: Option<usize>,
    /// Number of cells in each table header, by table start offset (for ragged-row checks).
    pub header_cells: Vec<(usize, usize)>,
}

/// Text gathered from inline events: a slice of the source (or a static string) while it
/// is one piece or pieces that touch in the source, an owned string once it is not.
#[derive(Debug)]
enum Buf<'a> {
    Slice(&'a str),
    Owned(String),
}

impl Default for Buf<'_> {
    fn default() -> Self {
        Buf::Slice("")
    }
}

impl<'a> Buf<'a> {
    fn as_str(&self) -> &str {
        match self {
            Buf::Slice(s) => s,
            Buf::Owned(s) => s,
        }
    }

    fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }

    /// Appends a piece that lives as long as the source.
    fn push(&mut self, src: &'a str, piece: &'a str) {
        match self {
            Buf::Slice("") => *self = Buf::Slice(piece),
            Buf::Slice(s) => match touching(src, s, piece) {
                Some(joined) => *self = Buf::Slice(joined),
                None => self.push_copy(piece),
            },
            Buf::Owned(o) => o.push_str(piece),
        }
    }

    /// Appends a piece, never joining it to the text in place.
    fn append(&mut self, piece: &'a str) {
        match self {
            Buf::Slice("") => *self = Buf::Slice(piece),
            _ => self.push_copy(piece),
        }
    }

    /// Appends a piece that does not outlive this call.
    fn push_copy(&mut self, piece: &str) {
        match self {
            Buf::Slice(s) => {
                let mut o = String::with_capacity(s.len() + piece.len());
                o.push_str(s);
                o.push_str(piece);
                *self = Buf::Owned(o);
            }
            Buf::Owned(o) => o.push_str(piece),
        }
    }

    fn push_cow(&mut self, src: &'a str, piece: CowStr<'a>) {
        match piece {
            CowStr::Borrowed(b) => self.push(src, b),
            other => self.push_copy(&other),
        }
    }

    /// The text with surrounding whitespace removed (`str::trim`), without a copy.
    fn trimmed(self) -> Cow<'a, str> {
        match self {
            Buf::Slice(s) => Cow::Borrowed(s.trim()),
            Buf::Owned(mut o) => {
                let end = o.trim_end().len();
                o.truncate(end);
                let start = o.len() - o.trim_start().len();
                o.drain(..start);
                Cow::Owned(o)
            }
        }
    }
}

/// `a` and `b` joined when `b` starts in `src` right where `a` ends there.
fn touching<'a>(src: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let base = src.as_ptr() as usize;
    let (pa, pb) = (a.as_ptr() as usize, b.as_ptr() as usize);
    if pa < base || pa + a.len() != pb || pb + b.len() > base + src.len() {
        return None;
    }
    src.get(pa - base..pb + b.len() - base)
}

enum Frame<'a> {
    List {
        ordered: bool,
        items: Vec<Item<'a>>,
        start: usize,
        end: usize,
    },
    Item {
        item: Item<'a>,
        text: Buf<'a>,
    },
    Quote,
    Heading {
        level: u8,
        text: Buf<'a>,
        start: usize,
        end: usize,
    },
    /// `text` is gathered only for a paragraph that is part of a list item's text.
    Paragraph {
        text: Option<Buf<'a>>,
        start: usize,
        end: usize,
    },
    Table {
        header: Vec<Cow<'a, str>>,
        header_source: usize,
        rows: Vec<Row<'a>>,
        cur: Vec<Cow<'a, str>>,
        row_range: (usize, usize),
        start: usize,
        end: usize,
    },
    Cell(Buf<'a>),
    Opaque {
        start: usize,
        end: usize,
    },
}

/// Parses `text`, whose first byte sits at `base` in the file (offsets are file offsets).
pub(crate) fn parse(text: &str, base: usize) -> Parsed<'_> {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = Parsed::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut containers = 0usize;
    let mut skip = 0usize;

    for (event, range) in Parser::new_ext(text, opts).into_offset_iter() {
        let (start, end) = (range.start + base, range.end + base);
        if skip > 0 {
            match event {
                Event::Start(_) => skip += 1,
                Event::End(_) => skip -= 1,
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => {
                let frame = match tag {
                    Tag::Paragraph => Frame::Paragraph {
                        // Only a paragraph that joins its item's text is read.
                        text: matches!(stack.last(), Some(Frame::Item { .. })).then(Buf::default),
                        start,
                        end,
                    },
                    Tag::Heading { level, .. } => Frame::Heading {
                        level: level as u8,
                        text: Buf::default(),
                        start,
                        end,
                    },
                    Tag::List(_) | Tag::BlockQuote(_) | Tag::Item if containers >= MAX_DEPTH => {
                        out.too_deep_at.get_or_insert(start);
                        skip = 1;
                        continue;
                    }
                    Tag::List(first) => {
                        containers += 1;
                        Frame::List {
                            ordered: first.is_some(),
                            items: Vec::new(),
                            start,
                            end,
                        }
                    }
                    Tag::Item => {
                        containers += 1;
                        Frame::Item {
                            item: Item {
                                checked: None,
                                marker: None,
                                text: Cow::Borrowed(""),
                                children: Vec::new(),
                                start,
                                end,
                            },
                            text: Buf::default(),
                        }
                    }
                    Tag::BlockQuote(_) => {
                        containers += 1;
                        Frame::Quote
                    }
                    Tag::Table(_) => Frame::Table {
                        header: Vec::new(),
                        header_source: 0,
                        rows: Vec::new(),
                        cur: Vec::new(),
                        row_range: (start, start),
                        start,
                        end,
                    },
                    Tag::TableHead | Tag::TableRow => {
                        if let Some(Frame::Table { cur, row_range, .. }) = stack.last_mut() {
                            cur.clear();
                            *row_range = (start, end);
                        }
                        continue;
                    }
                    Tag::TableCell => Frame::Cell(Buf::default()),
                    Tag::CodeBlock(_)
                    | Tag::HtmlBlock
                    | Tag::FootnoteDefinition(_)
                    | Tag::DefinitionList
                    | Tag::DefinitionListTitle
                    | Tag::DefinitionListDefinition
                    | Tag::MetadataBlock(_) => Frame::Opaque { start, end },
                    // Inline markup: its text flows into the enclosing block.
                    Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough
                    | Tag::Superscript
                    | Tag::Subscript
                    | Tag::Link { .. }
                    | Tag::Image { .. } => continue,
                };
                stack.push(frame);
            }
            Event::End(tag) => match tag {
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Superscript
                | TagEnd::Subscript
                | TagEnd::Link
                | TagEnd::Image => {}
                TagEnd::TableHead | TagEnd::TableRow => {
                    if let Some(Frame::Table {
                        header,
                        header_source,
                        rows,
                        cur,
                        row_range,
                        ..
                    }) = stack.last_mut()
                    {
                        let (rs, re) = *row_range;
                        let source_cells = count_source_cells(text, rs - base, re - base);
                        if tag == TagEnd::TableHead {
                            *header = std::mem::take(cur);
                            *header_source = source_cells;
                        } else {
                            rows.push(Row {
                                cells: std::mem::take(cur),
                                source_cells,
                                start: rs,
                                end: re,
                            });
                        }
                    }
                }
                _ => {
                    let Some(frame) = stack.pop() else { continue };
                    close(frame, &mut stack, &mut out, &mut containers);
                }
            },
            Event::Text(t) | Event::Code(t) => push_text(&mut stack, text, t),
            Event::InlineMath(t) | Event::DisplayMath(t) => push_text(&mut stack, text, t),
            Event::SoftBreak | Event::HardBreak => push_text(&mut stack, text, " ".into()),
            Event::TaskListMarker(checked) => {
                if let Some(Frame::Item { item, .. }) = stack.last_mut() {
                    item.checked = Some(checked);
                    item.marker = Some((start, end));
                } else if let Some(Frame::Paragraph { .. }) = stack.last() {
                    // Loose task item: the marker sits inside the first paragraph.
                    if let Some(Frame::Item { item, .. }) = stack.iter_mut().rev().nth(1) {
                        item.checked = Some(checked);
                        item.marker = Some((start, end));
                    }
                }
            }
            Event::Html(_) | Event::InlineHtml(_) | Event::FootnoteReference(_) | Event::Rule => {}
        }
    }
    // Unbalanced streams do not happen with pulldown-cmark, but never lose what was built.
    while let Some(frame) = stack.pop() {
        close(frame, &mut stack, &mut out, &mut containers);
    }
    out
}

fn push_text<'a>(stack: &mut [Frame<'a>], src: &'a str, t: CowStr<'a>) {
    match stack.last_mut() {
        Some(Frame::Paragraph {
            text: Some(text), ..
        })
        | Some(Frame::Heading { text, .. })
        | Some(Frame::Cell(text))
        | Some(Frame::Item { text, .. }) => text.push_cow(src, t),
        _ => {}
    }
}

fn close<'a>(
    frame: Frame<'a>,
    stack: &mut [Frame<'a>],
    out: &mut Parsed<'a>,
    containers: &mut usize,
) {
    let block = match frame {
        Frame::List {
            ordered,
            items,
            start,
            end,
        } => {
            *containers -= 1;
            Block {
                kind: BlockKind::List { ordered, items },
                start,
                end,
            }
        }
        Frame::Item { mut item, text } => {
            *containers -= 1;
            item.text = text.trimmed();
            if let Some(Frame::List { items, .. }) = stack.last_mut() {
                items.push(item);
            }
            return;
        }
        Frame::Quote => {
            *containers -= 1;
            return;
        }
        Frame::Heading {
            level,
            text,
            start,
            end,
        } => Block {
            kind: BlockKind::Heading {
                level,
                text: text.trimmed(),
            },
            start,
            end,
        },
        Frame::Paragraph { text, start, end } => {
            if let Some(Frame::Item {
                text: item_text, ..
            }) = stack.last_mut()
            {
                if !item_text.is_empty() {
                    item_text.append("\n");
                }
                match text.map(Buf::trimmed) {
                    Some(Cow::Borrowed(t)) => item_text.append(t),
                    Some(Cow::Owned(t)) => item_text.push_copy(&t),
                    None => {}
                }
                return;
            }
            Block {
                kind: BlockKind::Paragraph,
                start,
                end,
            }
        }
        Frame::Cell(text) => {
            if let Some(Frame::Table { cur, .. }) = stack.last_mut() {
                cur.push(text.trimmed());
            }
            return;
        }
        Frame::Table {
            header,
            header_source,
            rows,
            start,
            end,
            ..
        } => {
            out.header_cells.push((start, header_source));
            Block {
                kind: BlockKind::Table { header, rows },
                start,
                end,
            }
        }
        Frame::Opaque { start, end } => Block {
            kind: BlockKind::Other,
            start,
            end,
        },
    };
    // A finished block belongs to the nearest enclosing item, else to the document.
    for frame in stack.iter_mut().rev() {
        match frame {
            Frame::Item { item, .. } => {
                item.children.push(block);
                return;
            }
            Frame::Quote => continue,
            _ => break,
        }
    }
    out.blocks.push(block);
}

/// The byte ranges of one GFM table row's cells as written, between unescaped pipes (the
/// spaces around a cell's text included), as file offsets.
pub(crate) fn source_cell_spans(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let Some(row) = text.get(start..end) else {
        return Vec::new();
    };
    let line = row.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    let bytes = line.as_bytes();
    let last = line.trim_end().len();
    let mut at = line.len() - line.trim_start().len();
    if bytes.get(at) == Some(&b'|') {
        at += 1;
    }
    let mut spans = Vec::new();
    let mut cell = at;
    while at < last {
        match bytes[at] {
            b'\\' => at += 2,
            b'|' => {
                spans.push((start + cell, start + at));
                at += 1;
                cell = at;
            }
            _ => at += 1,
        }
    }
    if cell < last {
        spans.push((start + cell, start + last));
    }
    spans
}

/// Counts the cells of one GFM table row as written: unescaped pipes split cells, a leading
/// and a trailing pipe are optional.
fn count_source_cells(text: &str, start: usize, end: usize) -> usize {
    let Some(row) = text.get(start..end) else {
        return 0;
    };
    let row = row.lines().next().unwrap_or("").trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let mut cells = 1usize;
    let bytes = row.as_bytes();
    let mut at = 0;
    while let Some(i) = bytes
        .get(at..)
        .and_then(|rest| memchr::memchr2(b'|', b'\\', rest))
    {
        let i = at + i;
        if bytes[i] == b'\\' {
            // The escaped byte, whatever it is, is text.
            at = i + 2;
        } else {
            if i + 1 < bytes.len() {
                cells += 1;
            }
            at = i + 1;
        }
    }
    if row.is_empty() { 0 } else { cells }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(md: &str) -> Vec<Block<'_>> {
        parse(md, 0).blocks
    }

    #[test]
    fn strips_inline_markup_and_keeps_task_state() {
        let b = blocks("- [x] **SRE-04-01** Provision `worker` [runtime](x.md)\n  - Epic: F3-E1\n");
        let BlockKind::List { items, .. } = &b[0].kind else {
            panic!("not a list: {b:?}")
        };
        assert_eq!(items[0].checked, Some(true));
        assert_eq!(items[0].marker, Some((2, 5)));
        assert_eq!(items[0].text, "SRE-04-01 Provision worker runtime");
        let BlockKind::List { items: kids, .. } = &items[0].children[0].kind else {
            panic!("no nested list")
        };
        assert_eq!(kids[0].text, "Epic: F3-E1");
    }

    #[test]
    fn tables_keep_escaped_pipes_and_source_cell_counts() {
        let md = "| A | B |\n|---|---|\n| x \\| y | z |\n| only |\n| 1 | 2 | 3 |\n";
        let b = blocks(md);
        let BlockKind::Table { header, rows } = &b[0].kind else {
            panic!("not a table")
        };
        assert_eq!(header, &["A", "B"]);
        assert_eq!(rows[0].cells, ["x | y", "z"]);
        assert_eq!(rows[0].source_cells, 2);
        assert_eq!(rows[1].source_cells, 1);
        assert_eq!(rows[2].source_cells, 3);
    }

    /// The first, byte-by-byte version of `count_source_cells`.
    fn source_cells_byte_by_byte(text: &str, start: usize, end: usize) -> usize {
        let Some(row) = text.get(start..end) else {
            return 0;
        };
        let row = row.lines().next().unwrap_or("").trim();
        let row = row.strip_prefix('|').unwrap_or(row);
        let mut cells = 1usize;
        let mut escaped = false;
        let bytes = row.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' => escaped = true,
                b'|' if i + 1 < bytes.len() => cells += 1,
                _ => {}
            }
        }
        if row.is_empty() { 0 } else { cells }
    }

    #[test]
    fn source_cell_spans_are_the_text_between_pipes() {
        let text = "x\n| a | **b** \\| c |  |\r\nnext";
        let spans = source_cell_spans(text, 2, text.len());
        let cells: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(cells, [" a ", " **b** \\| c ", "  "]);
        let bare = "a | b";
        let spans = source_cell_spans(bare, 0, bare.len());
        let cells: Vec<&str> = spans.iter().map(|&(s, e)| &bare[s..e]).collect();
        assert_eq!(cells, ["a ", " b"]);
    }

    #[test]
    fn source_cells_count_unescaped_pipes() {
        let row = "| a \\| b | c |";
        assert_eq!(count_source_cells(row, 0, row.len()), 2);
        // Every row of up to 6 characters from a small alphabet, and its slices.
        let alphabet = ['|', '\\', 'a', ' ', '\n', 'é'];
        let mut rows = vec![String::new()];
        for _ in 0..6 {
            let longer: Vec<String> = rows
                .iter()
                .filter(|r| r.chars().count() == rows.last().map_or(0, |l| l.chars().count()))
                .flat_map(|r| alphabet.iter().map(move |c| format!("{r}{c}")))
                .collect();
            rows.extend(longer);
        }
        for row in &rows {
            for start in [0, 1, 2] {
                for end in [row.len(), row.len().saturating_sub(1), start + 3] {
                    assert_eq!(
                        count_source_cells(row, start, end),
                        source_cells_byte_by_byte(row, start, end),
                        "{row:?} {start}..{end}"
                    );
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_cut_not_crashed() {
        let md = "- ".repeat(10_000) + "x\n";
        let p = parse(&md, 0);
        assert!(p.too_deep_at.is_some());
    }

    #[test]
    fn offsets_are_shifted_by_base() {
        let b = parse("# Title\n", 10).blocks;
        assert_eq!((b[0].start, b[0].end), (10, 18));
    }
}
