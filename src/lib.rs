//! storypack: sprint-plan markdown -> what an AI coding agent needs for one story.
//!
//! # Data flow
//! plan files --[`plan::Index`] (read, extract, assemble)--> [`model::Plan`] + diagnostics
//! --> [`priorities`] (what matters now) --> [`app::App`] (the facade) --> adapters (CLI in
//! `main.rs`/`cli/`; the MCP server in [`mcp`]).
//!
//! # Layout
//! - [`model`]: plain data (Plan, Sprint, Story, Epic, GateChecklist, Citation, Diagnostic).
//! - [`plan`]: markdown -> model. Only `plan::markdown` uses pulldown-cmark. Never fails.
//! - [`priorities`]: sprint selection, dependency order, blocked flags, story filters.
//! - [`app`]: the facade adapters call; owns the loaded plan.
//! - `search`: the BM25 index over plan sections (packs and `search` share it).
//! - [`tokens`]: token counting (tiktoken o200k_base / cl100k_base) behind a trait, cached.
//! - [`pack`]: context packs: recipes, candidates, ranking, budget fitting, rendering, files.
//! - [`render`]: readable text from the same values the JSON carries.
//! - [`handoff`]: handoff contracts (raw/validated), validation, the append-only store.
//! - [`store`]: choosing the handoff store (files or PostgreSQL), copying between stores.
//! - [`coord`]: live story states, claims (leases), the next ready story.
//! - [`gate`]: gate evidence checks and verdicts.
//! - [`evidence`]: evidence references (exists, missing, external, outside the root).
//! - [`writeback`]: `storypack sync`: plan edits recording done handoffs, diffs, safe writes.
//! - [`setup`]: onboarding: client configs (`setup`), the AGENTS.md block, `init`, `doctor`.
//! - [`mcp`]: the MCP server (rmcp, the only rmcp user): tools, resources, prompts, HTTP, watch.
//! - `regular`: opening plan-named files: regular files only, never a FIFO or a device.
//! - [`report`]: the gate evidence package (`report gate`) as HTML and Markdown.
//! - [`board`]: the read-only board at `/` of the HTTP server (axum): pages, graph, live.
//! - `error` ([`Error`]): what a caller asked for that cannot be given, naming the field.
//!
//! Module docs point contributors at internals: read them with
//! `cargo doc --document-private-items`.
#![warn(unreachable_pub)]
#![allow(
    rustdoc::private_intra_doc_links,
    reason = "module docs guide contributors to private items (cargo doc --document-private-items)"
)]

pub mod app;
pub mod board;
pub mod coord;
mod error;
pub mod evidence;
pub mod gate;
pub mod handoff;
pub mod mcp;
pub mod model;
pub mod pack;
pub mod plan;
pub mod priorities;
mod regular;
pub mod render;
pub mod report;
mod search;
pub mod setup;

pub mod store;
mod sync;
pub mod tokens;
pub mod writeback;

pub use error::Error;
