//! One integration test binary (faster links, one place for fixtures); a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;
