//! The whole search index kept in the plan's persisted index folder (`search.bin`), so that a
//! new process ranks without scanning every unit's text again.
//!
//! It holds for one plan reading only: its key hashes this module's and the parser's build
//! ids and every document's path and content hash, in order. Any other key, format or a
//! failed blake3 checksum, and the file is ignored (the index is built and written anew).
//! Units' paths are not stored: they are their documents'.

use std::path::Path;

use rustc_hash::FxHashMap;

use super::{SearchIndex, Unit};
use crate::model::{Citation, DocKind, Plan};
use crate::plan::persist::{Cursor, seal, unseal};

const MAGIC: &[u8; 8] = b"SPSEARCH";
const FORMAT: u32 = 1;
pub(crate) const FILE: &str = "search.bin";
/// Largest index file read.
const MAX_BYTES: u64 = 1 << 31;
/// A hash of the code that builds the index (with the parser's id, in [`key`]).
const SEARCH_ID: u64 = xxhash_rust::const_xxh3::xxh3_64_with_seed(
    include_bytes!("mod.rs"),
    crate::plan::persist::PARSER_ID,
);

const KINDS: [DocKind; DocKind::COUNT] = [
    DocKind::Governance,
    DocKind::Architecture,
    DocKind::Features,
    DocKind::Backlog,
    DocKind::Sprints,
    DocKind::Playbooks,
    DocKind::AgentExecution,
    DocKind::RolePlans,
    DocKind::Other,
];

/// What the index of `plan` is keyed by.
pub(crate) fn key(plan: &Plan, config_hash: u64) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(SEARCH_ID ^ config_hash);
    for d in &plan.docs {
        h.update(d.path.as_bytes());
        h.update(&[0]);
        h.update(d.hash.as_bytes());
        h.update(&[0]);
    }
    h.digest()
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// The index's bytes, checksum included.
pub(crate) fn encode(index: &SearchIndex, key: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        64 + index.units.len() * 64 + index.post_units.len() * 8 + index.terms.len() * 12,
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&key.to_le_bytes());
    put_u32(&mut out, index.units.len());
    for (u, &bodiless) in index.units.iter().zip(&index.bodiless) {
        put_u32(&mut out, u.doc);
        out.push(u.kind.index() as u8);
        out.push(u8::from(bodiless));
        out.extend_from_slice(&(u.start as u64).to_le_bytes());
        out.extend_from_slice(&(u.end as u64).to_le_bytes());
        out.extend_from_slice(&u.citation.line_start.to_le_bytes());
        out.extend_from_slice(&u.citation.line_end.to_le_bytes());
        put_str(&mut out, &u.title);
        put_str(&mut out, &u.citation.heading);
    }
    put_u32(&mut out, index.doc_units.len());
    for &(a, b) in &index.doc_units {
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    }
    let mut terms: Vec<(u64, u32)> = index.terms.iter().map(|(&h, &id)| (h, id)).collect();
    terms.sort_unstable_by_key(|&(_, id)| id);
    put_u32(&mut out, terms.len());
    for (h, id) in terms {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    for list in [&index.offsets, &index.post_units] {
        put_u32(&mut out, list.len());
        for n in list.iter() {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    put_u32(&mut out, index.post_impact.len());
    for f in &index.post_impact {
        out.extend_from_slice(&f.to_bits().to_le_bytes());
    }
    seal(out)
}

/// The index of `plan` read back from `bytes`, when they are a whole index of this very
/// plan reading (`key`); `None` otherwise.
pub(crate) fn decode(bytes: &[u8], plan: &Plan, key: u64) -> Option<SearchIndex> {
    let body = unseal(bytes, MAGIC).ok()?;
    let mut c = Cursor { bytes: body, at: 8 };
    if c.u32()? != FORMAT || c.u64()? != key {
        return None;
    }
    let n_units = c.len()?;
    let mut index = SearchIndex::default();
    index.units.reserve(n_units.min(1 << 24));
    for unit_id in 0..n_units {
        let doc = c.u32()? as usize;
        let kind = *KINDS.get(c.u8()? as usize)?;
        let bodiless = c.u8()? != 0;
        let start = usize::try_from(c.u64()?).ok()?;
        let end = usize::try_from(c.u64()?).ok()?;
        let line_start = c.u32()?;
        let line_end = c.u32()?;
        let title = c.string()?;
        let heading = c.string()?;
        let path = plan.docs.get(doc)?.path.clone();
        if index.kind_runs.last().is_none_or(|&(_, k)| k != kind) {
            index.kind_runs.push((unit_id as u32, kind));
        }
        index.kinds.push(kind);
        index.bodiless.push(bodiless);
        index.units.push(Unit {
            doc,
            kind,
            title,
            start,
            end,
            citation: Citation {
                path,
                line_start,
                line_end,
                heading,
            },
        });
    }
    let n_docs = c.len()?;
    for _ in 0..n_docs {
        index.doc_units.push((c.u32()?, c.u32()?));
    }
    let n_terms = c.len()?;
    let mut terms = FxHashMap::default();
    terms.reserve(n_terms.min(1 << 24));
    for _ in 0..n_terms {
        let h = c.u64()?;
        terms.insert(h, c.u32()?);
    }
    index.terms = terms;
    index.offsets = c.u32s()?;
    index.post_units = c.u32s()?;
    index.post_impact = c.u32s()?.into_iter().map(f32::from_bits).collect();
    (c.at == body.len()
        && index.post_units.len() == index.post_impact.len()
        && index.offsets.len() == index.terms.len() + 1
        && index.post_units.iter().all(|&u| (u as usize) < n_units))
    .then_some(index)
}

/// Reads the index of `plan` from the folder `dir`, if one there holds. Its header is read
/// first: an index of another plan reading (the usual case after an edit) is passed over
/// without reading, and checksumming, the whole file.
pub(crate) fn read(dir: &Path, plan: &Plan, key: u64) -> Option<SearchIndex> {
    use std::io::Read;
    let path = dir.join(FILE);
    let unused = |why: &str| {
        tracing::debug!(file = %path.display(), why, "kept search index not used");
        None
    };
    let Ok((mut file, meta)) = crate::regular::open(&path) else {
        return None;
    };
    if meta.len() > MAX_BYTES {
        return unused("over the size limit");
    }
    let mut bytes = vec![0u8; 20];
    if file.read_exact(&mut bytes).is_err()
        || bytes[..8] != *MAGIC
        || bytes[8..12] != FORMAT.to_le_bytes()
        || bytes[12..20] != key.to_le_bytes()
    {
        return unused("of another plan reading, format or build");
    }
    if file.read_to_end(&mut bytes).is_err() {
        return unused("unreadable");
    }
    decode(&bytes, plan, key).or_else(|| unused("corrupt or truncated"))
}

/// Writes the index to the folder `dir` (atomically).
pub(crate) fn write(dir: &Path, index: &SearchIndex, key: u64) -> std::io::Result<()> {
    crate::plan::persist::write_file(&dir.join(FILE), &encode(index, key))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::plan::parse_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan")).plan
    }

    pub(super) fn same(a: &SearchIndex, b: &SearchIndex) {
        assert_eq!(a.units, b.units);
        assert_eq!(a.kinds, b.kinds);
        assert_eq!(a.kind_runs, b.kind_runs);
        assert_eq!(a.bodiless, b.bodiless);
        assert_eq!(a.doc_units, b.doc_units);
        assert_eq!(a.terms, b.terms);
        assert_eq!(a.offsets, b.offsets);
        assert_eq!(a.post_units, b.post_units);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.post_impact), bits(&b.post_impact));
    }

    #[test]
    fn an_index_read_back_is_the_index_built() {
        let plan = plan();
        let built = SearchIndex::build(&plan);
        let k = key(&plan, 0);
        let bytes = encode(&built, k);
        same(&decode(&bytes, &plan, k).unwrap(), &built);
    }

    #[test]
    fn a_kept_index_is_read_back_only_for_its_own_plan_reading() {
        let plan = plan();
        let built = SearchIndex::build(&plan);
        let dir = tempfile::tempdir().unwrap();
        let k = key(&plan, 0);
        write(dir.path(), &built, k).unwrap();
        same(&read(dir.path(), &plan, k).unwrap(), &built);
        assert!(
            read(dir.path(), &plan, k ^ 1).is_none(),
            "another plan reading"
        );
        let file = dir.path().join(FILE);
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert!(
            read(dir.path(), &plan, k).is_none(),
            "corrupt past the header"
        );
        std::fs::write(&file, &bytes[..10]).unwrap();
        assert!(
            read(dir.path(), &plan, k).is_none(),
            "shorter than a header"
        );
    }

    #[test]
    fn another_plan_reading_a_flipped_bit_or_a_cut_is_refused() {
        let plan = plan();
        let built = SearchIndex::build(&plan);
        let k = key(&plan, 0);
        let bytes = encode(&built, k);
        assert!(decode(&bytes, &plan, k ^ 1).is_none(), "another plan");
        assert_ne!(key(&plan, 7), k, "another config");
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 3] ^= 0x10;
        assert!(decode(&flipped, &plan, k).is_none(), "corrupt");
        assert!(
            decode(&bytes[..bytes.len() - 1], &plan, k).is_none(),
            "truncated"
        );
        assert!(decode(&[], &plan, k).is_none(), "empty");
        // A changed document changes the key.
        let mut edited = plan.clone();
        let doc = std::sync::Arc::make_mut(&mut edited.docs[0]);
        doc.hash = "0".repeat(16);
        assert_ne!(key(&edited, 0), k);
    }
}
#[cfg(test)]
mod tmp_debug {
    #[test]
    fn tmp_app_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plan");
        let st = std::process::Command::new("cp")
            .arg("-r")
            .arg(format!("{}/.", src.display()))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success());
        let _ = std::fs::remove_dir_all(dir.path().join(".storypack"));
        let a = crate::app::App::open_with(dir.path(), true).unwrap();
        let built = a.index().clone();
        a.persist_index();
        let b = crate::app::App::open_with(dir.path(), true).unwrap();
        let read = b.index();
        assert_eq!(built.units.len(), read.units.len());
        for (i, (x, y)) in built.units.iter().zip(&read.units).enumerate() {
            assert_eq!(x, y, "unit {i}");
        }
        super::tests::same(&built, read);
    }
}
