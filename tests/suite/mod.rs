mod cli;
mod diagnostics;
mod example_plan;
mod formats;
mod no_panic;
mod packs;
mod seed;
pub mod util;
