use super::*;
use crate::model::StoryStatus;
use crate::plan::{self, Loaded, Source};

fn parse(files: &[(&str, &[u8])]) -> Plan {
    plan::parse(Loaded {
        sources: files
            .iter()
            .map(|(p, t)| Source {
                path: p.to_string(),
                bytes: t.to_vec(),
            })
            .collect(),
        config: None,
        diagnostics: Vec::new(),
    })
    .plan
}

fn done(ids: &[&str]) -> Vec<DoneStory> {
    ids.iter()
        .map(|id| DoneStory {
            story_id: id.to_string(),
            handoff: format!("{id}#1"),
        })
        .collect()
}

const PATH: &str = "docs/03-backlog/b.md";

/// Edits one backlog file for `ids`; checks that the new text reads them done and that a
/// second sync finds nothing to do. Returns the new text.
fn synced(text: &str, ids: &[&str]) -> String {
    let plan = parse(&[(PATH, text.as_bytes())]);
    for id in ids {
        assert_eq!(plan.story(id).unwrap().status, StoryStatus::Todo, "{id}");
    }
    let edits = plan_edits(&plan, &done(ids));
    assert!(edits.unrecordable.is_empty(), "{:?}", edits.unrecordable);
    assert_eq!(edits.files.len(), 1);
    let new = edits.files[0].apply();
    let again = parse(&[(PATH, new.as_bytes())]);
    for id in ids {
        assert_eq!(again.story(id).unwrap().status, StoryStatus::Done, "{id}");
    }
    let second = plan_edits(&again, &done(ids));
    assert!(second.files.is_empty() && second.unrecordable.is_empty());
    new
}

#[test]
fn a_list_story_gets_its_box_ticked_and_nothing_else_changes() {
    let text = "# Backlog\n\n- [ ] A-1 First\n  - Epic: F1-E1\n- [ ] A-2 Second [ ] kept\n- [x] A-3 Done already\n";
    let new = synced(text, &["A-2"]);
    assert_eq!(
        new,
        "# Backlog\n\n- [ ] A-1 First\n  - Epic: F1-E1\n- [x] A-2 Second [ ] kept\n- [x] A-3 Done already\n"
    );
}

#[test]
fn a_nested_status_field_is_set_to_done_along_with_the_box() {
    let text = "- [ ] A-1 First\n  - Status: in progress\n  - Epic: F1-E1\n- A-2 Second\n  - **State:** `todo`\n";
    let new = synced(text, &["A-1", "A-2"]);
    assert_eq!(
        new,
        "- [x] A-1 First\n  - Status: done\n  - Epic: F1-E1\n- A-2 Second\n  - **State:** `done`\n"
    );
}

#[test]
fn a_heading_story_gets_its_status_line_set_in_the_case_it_was_written() {
    let text = "## Sprint 1\n\n### PAY-12: Table\n**Epic:** F4-E1\n**Status:** In review\n\nProse.\n\n### PAY-14: Wiring\nStatus: TODO\\\nEpic: F3-E1\n";
    let new = synced(text, &["PAY-12", "PAY-14"]);
    assert_eq!(
        new,
        "## Sprint 1\n\n### PAY-12: Table\n**Epic:** F4-E1\n**Status:** Done\n\nProse.\n\n### PAY-14: Wiring\nStatus: DONE\\\nEpic: F3-E1\n"
    );
}

#[test]
fn a_table_status_cell_is_set_and_the_pipes_stay_aligned() {
    let text = "| ID   | Title | Status      | Owner |\n|------|-------|-------------|-------|\n| FL-5 | Board | In progress | Front |\n| FL-6 | Moves | To do       | Front |\n| FL-7 | Alert |             | Ops   |\n| FL-8 | Tight |todo| Ops |\n";
    let new = synced(text, &["FL-5", "FL-6", "FL-7", "FL-8"]);
    assert_eq!(
        new,
        "| ID   | Title | Status      | Owner |\n|------|-------|-------------|-------|\n| FL-5 | Board | Done        | Front |\n| FL-6 | Moves | Done        | Front |\n| FL-7 | Alert | done        | Ops   |\n| FL-8 | Tight |done| Ops |\n"
    );
}

#[test]
fn an_empty_status_field_gets_a_value() {
    let new = synced("- A-1 First\n  - Status:\n  - Epic: E\n", &["A-1"]);
    assert_eq!(new, "- A-1 First\n  - Status: done\n  - Epic: E\n");
}

#[test]
fn crlf_and_a_missing_final_newline_are_kept() {
    let text = "# B\r\n\r\n- [ ] A-1 First\r\n  - Status: open\r\n- [ ] A-2 Last";
    let new = synced(text, &["A-1", "A-2"]);
    assert_eq!(
        new,
        "# B\r\n\r\n- [x] A-1 First\r\n  - Status: done\r\n- [x] A-2 Last"
    );
    let plan = parse(&[(PATH, text.as_bytes())]);
    let diff = plan_edits(&plan, &done(&["A-2"])).files[0].diff();
    assert!(
        diff.ends_with("-- [ ] A-2 Last\n\\ No newline at end of file\n+- [x] A-2 Last\n\\ No newline at end of file\n"),
        "{diff}"
    );
    assert!(diff.contains(" - Status: open\r\n"), "{diff}");
}

#[test]
fn a_bom_is_not_part_of_the_offsets() {
    let text = "\u{feff}- [ ] A-1 First\n";
    let new = synced(text, &["A-1"]);
    assert_eq!(new, "- [x] A-1 First\n");
}

#[test]
fn a_story_without_a_box_or_status_cannot_be_recorded() {
    let text = "- A-1 First\n  - Epic: E\n- [x] A-2 Done\n";
    let plan = parse(&[(PATH, text.as_bytes())]);
    let edits = plan_edits(&plan, &done(&["A-1", "A-2", "NOPE-9"]));
    assert!(edits.files.is_empty());
    assert_eq!(edits.unrecordable.len(), 1);
    let u = &edits.unrecordable[0];
    assert_eq!((u.story_id.as_str(), u.handoff.as_str()), ("A-1", "A-1#1"));
    assert_eq!(u.citation.line_start, 1);
    assert!(
        u.reason
            .contains("no task box, Status field or Status column")
    );
}

#[test]
fn the_report_lists_stories_lines_and_the_diff() {
    let text = "- [ ] A-1 First\n  - Status: todo\n- [ ] A-2 Second\n";
    let plan = parse(&[(PATH, text.as_bytes())]);
    let edits = plan_edits(&plan, &done(&["A-2", "A-1"]));
    let report = SyncReport::new(&edits, None);
    assert!(!report.write && !report.in_step());
    let stories: Vec<(&str, Vec<u32>, Vec<String>)> = report
        .stories
        .iter()
        .map(|s| (s.story_id.as_str(), s.lines.clone(), s.edits.clone()))
        .collect();
    assert_eq!(
        stories,
        [
            (
                "A-1",
                vec![1, 2],
                vec!["checkbox".to_string(), "status_field".to_string()]
            ),
            ("A-2", vec![3], vec!["checkbox".to_string()]),
        ]
    );
    let f = &report.files[0];
    assert_eq!(f.changes.len(), 3);
    assert_eq!(f.changes[1].before, "  - Status: todo");
    assert_eq!(f.changes[1].after, "  - Status: done");
    assert_eq!(
        f.diff,
        "--- a/docs/03-backlog/b.md\n+++ b/docs/03-backlog/b.md\n@@ -1,3 +1,3 @@\n-- [ ] A-1 First\n-  - Status: todo\n-- [ ] A-2 Second\n+- [x] A-1 First\n+  - Status: done\n+- [x] A-2 Second\n"
    );
}

mod disk {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::writeback::write::{write_checked, write_file};

    /// A plan root with one backlog file; returns the root (canonical) and the file's path.
    fn root_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = root.join(PATH);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
        (dir, root, file)
    }

    fn edits_for(root: &Path, ids: &[&str]) -> Edits {
        plan_edits(&plan::parse_dir(root).plan, &done(ids))
    }

    fn leftovers(file: &Path) -> Vec<String> {
        std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "b.md")
            .collect()
    }

    #[test]
    fn writing_keeps_the_bom_crlf_and_every_other_byte() {
        let before =
            b"\xEF\xBB\xBF# B\r\n- [ ] A-1 First\r\n  - Status: todo   \r\n- [ ] A-2 Other";
        let (_d, root, file) = root_with(before);
        let edits = edits_for(&root, &["A-1"]);
        assert_eq!(
            write_file(&root, &edits.files[0]).unwrap(),
            WriteOutcome::Written
        );
        let after = std::fs::read(&file).unwrap();
        assert_eq!(
            after,
            b"\xEF\xBB\xBF# B\r\n- [x] A-1 First\r\n  - Status: done   \r\n- [ ] A-2 Other"
        );
        assert!(leftovers(&file).is_empty(), "{:?}", leftovers(&file));
        assert!(edits_for(&root, &["A-1"]).files.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn writing_keeps_the_permissions_and_writes_through_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, root, file) = root_with(b"- [ ] A-1 First\n");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = root.join("docs/03-backlog/link.md");
        std::fs::write(root.join("real.txt"), b"- [ ] B-1 Linked\n").unwrap();
        std::os::unix::fs::symlink(root.join("real.txt"), &link).unwrap();
        let edits = edits_for(&root, &["A-1", "B-1"]);
        assert_eq!(edits.files.len(), 2);
        for f in &edits.files {
            assert_eq!(write_file(&root, f).unwrap(), WriteOutcome::Written);
        }
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(root.join("real.txt")).unwrap(),
            "- [x] B-1 Linked\n"
        );
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_refused_and_left_as_it_is() {
        let (_d, root, file) = root_with(b"- [ ] A-1 First\n- [ ] A-2 Second\n");
        let edits = edits_for(&root, &["A-1"]);
        let theirs = b"- [ ] A-1 First\n- [x] A-2 Second (edited by hand)\n";
        std::fs::write(&file, theirs).unwrap();
        let WriteOutcome::Refused(reason) = write_file(&root, &edits.files[0]).unwrap() else {
            panic!("written over a changed file");
        };
        assert!(
            reason.contains("changed since storypack read it") && reason.contains("line 2"),
            "{reason}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), theirs);
        assert!(leftovers(&file).is_empty());
    }

    #[test]
    fn a_change_between_the_temp_file_and_the_rename_is_refused() {
        let (_d, root, file) = root_with(b"- [ ] A-1 First\n");
        let edits = edits_for(&root, &["A-1"]);
        let theirs = b"- [ ] A-1 First, retitled\n";
        let outcome = write_checked(&root, &edits.files[0], || {
            std::fs::write(&file, theirs).unwrap();
        })
        .unwrap();
        assert!(matches!(outcome, WriteOutcome::Refused(_)), "{outcome:?}");
        assert_eq!(std::fs::read(&file).unwrap(), theirs);
        assert!(leftovers(&file).is_empty(), "{:?}", leftovers(&file));
    }

    #[test]
    fn a_removed_file_is_refused() {
        let (_d, root, file) = root_with(b"- [ ] A-1 First\n");
        let edits = edits_for(&root, &["A-1"]);
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(
            write_file(&root, &edits.files[0]).unwrap(),
            WriteOutcome::Refused(_)
        ));
        assert!(!file.exists());
    }
}
