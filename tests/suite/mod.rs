mod cli;
mod diagnostics;
mod example_plan;
mod formats;
mod no_panic;
mod seed;
pub mod util;
