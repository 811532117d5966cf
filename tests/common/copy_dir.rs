//! Copying a plan folder for tests and benchmarks that edit it (shared by `tests/suite` and
//! `benches/mcp.rs` through `#[path]`).

use std::fs;
use std::path::Path;

/// Copies `from` into `to` recursively, leaving out `.storypack` (packs and handoffs written
/// by earlier runs).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".storypack" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
