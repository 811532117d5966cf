//! The `storypack` binary: parses arguments and calls the library (see `cli/`).

mod cli;

use std::io::Write;
use std::process::ExitCode;

/// Packs and the server's JSON allocate many small objects: mimalloc took about 30% off a
/// warm pack on the 10,000-story plan against the system allocator (BENCHMARKS.md, run (g)).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`storypack stories | head`) is not an error.
            if err.chain().any(is_broken_pipe) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "storypack: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.downcast_ref::<std::io::Error>().map(|e| e.kind()) == pipe
        || e.downcast_ref::<serde_json::Error>()
            .and_then(|e| e.io_error_kind())
            == pipe
}
