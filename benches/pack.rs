//! Pack benchmark: written by the benchmark task (see BENCHMARKS.md).
fn main() {}
