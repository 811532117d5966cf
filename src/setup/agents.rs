//! The agent's instructions: a short block in the plan's `AGENTS.md` (and `CLAUDE.md`) saying
//! how to work with storypack. It sits between two marker lines; `setup` replaces what is
//! between them and leaves the rest of the file as it was, so running it again changes
//! nothing and a newer storypack updates the block in place.

use std::path::Path;

use super::{FileChange, SetupError, read_optional};

pub const BEGIN: &str =
    "<!-- storypack:begin (written by `storypack setup`; edits inside are replaced) -->";
pub const END: &str = "<!-- storypack:end -->";
/// What identifies the markers when reading (their wording after the name may change).
const BEGIN_TAG: &str = "<!-- storypack:begin";
const END_TAG: &str = "<!-- storypack:end";

/// The block's body (at most 300 o200k tokens with its markers; a unit test holds it there).
pub const BODY: &str = "\
## Working with storypack

This repository's sprint plan is served by the `storypack` MCP server. Work one story at a time:

1. **Take the next story**: `next_story` with your role, your agent name and `claim: true`
   (CLI: `storypack next --role ROLE --agent NAME --claim`). Work only on the story you got;
   do not re-plan or rebuild work the plan already assigns.
2. **Build its context pack**: `build_context_pack` with the story id, and read it before
   changing code. Cite `path:line` when you rely on the plan.
3. **Record the handoff**: `record_handoff` with the story's contract: status, summary, each
   acceptance criterion met or not with its evidence (files, test reports, commits). Check it
   first with `dry_run: true` and fix every problem it names.
4. **Check the gate**: `check_gate` for the story's sprint; fix what its reasons name.

Do not edit story status in the plan by hand: `storypack sync` records done handoffs.";

/// The whole block, markers included.
pub fn block() -> String {
    format!("{BEGIN}\n{BODY}\n{END}\n")
}

/// The file's new text with the block in it: in place of the old block, else appended.
pub(crate) fn with_block(old: Option<&str>, path: &Path) -> Result<Option<String>, SetupError> {
    let block = block();
    let Some(text) = old else {
        return Ok(Some(block));
    };
    let begin = find_marker_line(text, BEGIN_TAG);
    let end = find_marker_line(text, END_TAG);
    let new = match (begin, end) {
        (Some((b, _)), Some((e_start, e_end))) if b < e_start => {
            if text[e_end..].contains(BEGIN_TAG) {
                return Err(marker_error(path, "two storypack blocks"));
            }
            format!("{}{block}{}", &text[..b], &text[e_end..])
        }
        (None, None) => {
            let sep = if text.is_empty() || text.ends_with("\n\n") {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{text}{sep}{block}")
        }
        _ => {
            return Err(marker_error(
                path,
                "a storypack marker line without its pair",
            ));
        }
    };
    Ok((new != text).then_some(new))
}

fn marker_error(path: &Path, what: &str) -> SetupError {
    SetupError::Usage(format!(
        "{}: {what} ({BEGIN_TAG} ... {END_TAG}); left untouched. Remove the stray markers and \
         run setup again",
        path.display()
    ))
}

/// The byte range of the first line starting with `tag` (its line ending included).
fn find_marker_line(text: &str, tag: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(tag) {
            return Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    None
}

/// The change that puts the block in this file.
pub(crate) fn upsert(path: &Path) -> Result<FileChange, SetupError> {
    let old = read_optional(path)?;
    let new = with_block(old.as_deref(), path)?;
    Ok(FileChange::new(path.to_path_buf(), old, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Encoding, Tiktoken};

    #[test]
    fn block_is_at_most_300_o200k_tokens() {
        let n = Tiktoken::get(Encoding::O200kBase).count_uncached(&block());
        println!("AGENTS.md block: {n} o200k tokens");
        assert!(n <= 300, "the AGENTS.md block is {n} tokens");
    }

    #[test]
    fn block_names_the_tools_of_each_step() {
        for tool in [
            "next_story",
            "build_context_pack",
            "record_handoff",
            "check_gate",
        ] {
            assert!(BODY.contains(tool), "{tool}");
        }
    }

    #[test]
    fn block_is_replaced_not_duplicated() {
        let p = Path::new("AGENTS.md");
        let old =
            format!("# Team rules\n\nBe kind.\n\n{BEGIN}\nold words\n{END}\n\n## After\nmore\n");
        let new = with_block(Some(&old), p).unwrap().unwrap();
        assert_eq!(new.matches(BEGIN_TAG).count(), 1);
        assert!(new.starts_with("# Team rules\n\nBe kind.\n\n"));
        assert!(new.ends_with(&format!("{END}\n\n## After\nmore\n")));
        assert!(!new.contains("old words"));
        assert_eq!(with_block(Some(&new), p).unwrap(), None);
    }

    #[test]
    fn block_is_appended_after_existing_text() {
        let p = Path::new("AGENTS.md");
        let new = with_block(Some("# Rules"), p).unwrap().unwrap();
        assert_eq!(new, format!("# Rules\n\n{}", block()));
        assert_eq!(with_block(Some(&new), p).unwrap(), None);
    }

    #[test]
    fn a_lone_marker_is_refused() {
        let p = Path::new("AGENTS.md");
        assert!(with_block(Some(&format!("x\n{BEGIN}\ny\n")), p).is_err());
        assert!(with_block(Some(&format!("{END}\n{BEGIN}\n")), p).is_err());
    }
}
