//! A unified diff of edits that change lines in place (never add or remove one), as `git
//! diff` prints it: three lines of context, nearby hunks merged, each line written with its
//! own ending, `\ No newline at end of file` after a last line that has none.

use std::fmt::Write;

use crate::plan::text;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The diff of `old` -> `new` for `path`, where exactly the lines `changed` (1-based,
/// ascending) differ and both texts have the same lines.
pub(super) fn unified(path: &str, old: &str, new: &str, changed: &[u32]) -> String {
    let old_lines = split(old);
    let new_lines = split(new);
    let n = old_lines.len().min(new_lines.len());
    let changed: Vec<usize> = changed
        .iter()
        .map(|&l| l as usize - 1)
        .filter(|&i| i < n)
        .collect();
    let mut out = String::new();
    if changed.is_empty() {
        return out;
    }
    let _ = writeln!(out, "--- a/{path}");
    let _ = writeln!(out, "+++ b/{path}");
    // Hunks: (first line, one past the last), context included, merged when they touch.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let (a, b) = (i.saturating_sub(CONTEXT), (i + CONTEXT + 1).min(n));
        match hunks.last_mut() {
            Some(last) if a <= last.1 => last.1 = b,
            _ => hunks.push((a, b)),
        }
    }
    for (a, b) in hunks {
        let len = b - a;
        let range = if len == 1 {
            format!("{}", a + 1)
        } else {
            format!("{},{len}", a + 1)
        };
        let _ = writeln!(out, "@@ -{range} +{range} @@");
        let mut i = a;
        while i < b {
            if changed.binary_search(&i).is_err() {
                line(&mut out, ' ', old_lines[i]);
                i += 1;
                continue;
            }
            // A run of changed lines: the old ones, then the new ones.
            let mut j = i;
            while j < b && changed.binary_search(&j).is_ok() {
                j += 1;
            }
            for l in &old_lines[i..j] {
                line(&mut out, '-', l);
            }
            for l in &new_lines[i..j] {
                line(&mut out, '+', l);
            }
            i = j;
        }
    }
    out
}

/// The lines of a text, each with its ending (`\n`, `\r\n`, or none for a last line
/// without one); numbered like [`text::line_starts`].
fn split(text: &str) -> Vec<&str> {
    let starts = text::line_starts(text);
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| &text[s..starts.get(i + 1).copied().unwrap_or(text.len())])
        .collect()
}

fn line(out: &mut String, sign: char, l: &str) {
    out.push(sign);
    out.push_str(l);
    if !l.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_change_has_three_lines_of_context_each_side() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nV\n6\n7\n8\n9\n";
        let d = unified("p.md", old, new, &[5]);
        assert_eq!(
            d,
            "--- a/p.md\n+++ b/p.md\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+V\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn near_changes_share_a_hunk_and_far_ones_do_not() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old
            .replace("\n2\n", "\nB\n")
            .replace("\n3\n", "\nC\n")
            .replace("\n18\n", "\nR\n");
        let d = unified("p.md", &old, &new, &[2, 3, 18]);
        assert!(
            d.contains("@@ -1,6 +1,6 @@\n 1\n-2\n-3\n+B\n+C\n 4\n 5\n 6\n"),
            "{d}"
        );
        assert!(
            d.contains("@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+R\n 19\n 20\n"),
            "{d}"
        );
    }

    #[test]
    fn line_endings_are_kept_and_a_missing_final_newline_is_marked() {
        let d = unified("p.md", "a\r\nb", "a\r\nB", &[2]);
        assert_eq!(
            d,
            "--- a/p.md\n+++ b/p.md\n@@ -1,2 +1,2 @@\n a\r\n-b\n\\ No newline at end of file\n+B\n\\ No newline at end of file\n"
        );
        let one = unified("p.md", "x", "y", &[1]);
        assert!(one.contains("@@ -1 +1 @@\n"), "{one}");
    }
}
