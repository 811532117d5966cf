//! `storypack store copy --from SRC --to DST`: every record and claim event of one store
//! into another, byte for byte. Idempotent: an entry already there with the same bytes is
//! skipped, one there with other bytes is reported and left alone (nothing is ever
//! overwritten). Verified: afterwards every source entry is read back from the destination
//! and its blake3 hash compared.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::handoff::{EntryKind, HandoffStore, Put, Slot, StoreError};

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CopyReport {
    /// The source and destination, passwords left out.
    pub from: String,
    pub to: String,
    /// Entries (records and claim events) in the source.
    pub entries: usize,
    /// Written to the destination by this run.
    pub copied: usize,
    /// Already in the destination, byte for byte.
    pub already: usize,
    /// In the destination with other bytes under the same story and slot: not copied,
    /// e.g. `record SRE-04-01#2-k2x7m4pq`, `claim SRE-04-01@3`.
    pub conflicts: Vec<String>,
    /// Source entries read back from the destination with the same blake3 hash.
    pub verified: usize,
}

impl CopyReport {
    /// Every source entry is in the destination, unchanged.
    pub fn complete(&self) -> bool {
        self.conflicts.is_empty() && self.verified == self.entries
    }
}

fn label(kind: EntryKind, story: &str, slot: &Slot) -> String {
    match kind {
        EntryKind::Record => format!("record {story}#{slot}"),
        EntryKind::Claim => format!("claim {story}@{slot}"),
    }
}

/// Copies `from` into `to` and verifies the result.
pub fn copy(from: &dyn HandoffStore, to: &dyn HandoffStore) -> Result<CopyReport, StoreError> {
    let entries = from.raw_entries()?;
    let mut report = CopyReport {
        from: from.describe(),
        to: to.describe(),
        entries: entries.len(),
        copied: 0,
        already: 0,
        conflicts: Vec::new(),
        verified: 0,
    };
    for entry in &entries {
        match to.put_raw(entry)? {
            Put::Written => report.copied += 1,
            Put::Same => report.already += 1,
            Put::Differs => report
                .conflicts
                .push(label(entry.kind, &entry.story_id, &entry.slot)),
        }
    }
    let there: HashMap<(EntryKind, String, Slot), blake3::Hash> = to
        .raw_entries()?
        .into_iter()
        .map(|e| ((e.kind, e.story_id, e.slot), blake3::hash(&e.bytes)))
        .collect();
    report.verified = entries
        .iter()
        .filter(|e| {
            there.get(&(e.kind, e.story_id.clone(), e.slot.clone()))
                == Some(&blake3::hash(&e.bytes))
        })
        .count();
    tracing::info!(
        from = %report.from,
        to = %report.to,
        copied = report.copied,
        already = report.already,
        conflicts = report.conflicts.len(),
        "store copied"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::{ClaimAction, ClaimEvent, FileStore};

    #[test]
    fn a_second_copy_copies_nothing_and_a_differing_entry_is_reported_not_overwritten() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (src, dst) = (FileStore::for_plan(a.path()), FileStore::for_plan(b.path()));
        let at = "2026-12-01T10:00:00.000Z".to_string();
        for n in 1..=3 {
            let e = ClaimEvent::new("S-1", n, ClaimAction::Take, "a", at.clone(), None);
            assert!(src.append_claim(&e).unwrap());
        }
        let first = copy(&src, &dst).unwrap();
        assert_eq!((first.entries, first.copied, first.verified), (3, 3, 3));
        assert!(first.complete());
        let second = copy(&src, &dst).unwrap();
        assert_eq!((second.copied, second.already), (0, 3));
        // The destination's own event 4 differs from the source's.
        let theirs = ClaimEvent::new("S-1", 4, ClaimAction::Take, "b", at.clone(), None);
        assert!(dst.append_claim(&theirs).unwrap());
        let ours = ClaimEvent::new("S-1", 4, ClaimAction::Release, "a", at, None);
        assert!(src.append_claim(&ours).unwrap());
        let third = copy(&src, &dst).unwrap();
        assert_eq!(third.conflicts, vec!["claim S-1@4".to_string()]);
        assert!(!third.complete());
        assert_eq!(dst.claim_events(Some("S-1")).unwrap()[3], theirs);
    }
}
