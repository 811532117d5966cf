//! The library's error type: what a caller asked for that cannot be given. Every variant
//! names the input field at fault so adapters can show it as is; I/O and store failures keep
//! their source (see [`chain`] to show one with its causes).

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The value of `field` is malformed or out of range.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The value of `field` names nothing in the plan.
    #[error("{field}: {message}")]
    NotFound {
        field: &'static str,
        message: String,
    },
    /// The plan root itself cannot be used.
    #[error("plan: {0}")]
    Plan(String),
    /// Reading or writing a file storypack owns (a written pack, its folder) failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The handoff record could not be read or written.
    #[error(transparent)]
    Store(StoreError),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, message: String) -> Self {
        Error::Invalid { field, message }
    }

    pub(crate) fn not_found(field: &'static str, message: String) -> Self {
        Error::NotFound { field, message }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } | Error::NotFound { field, .. } => Some(field),
            Error::Plan(_) | Error::Io { .. } | Error::Store(_) => None,
        }
    }
}

/// A failure of the handoff record's store (see `handoff::HandoffStore`).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("story id `{0}` cannot name a handoff folder")]
    BadStoryId(String),
    #[error("handoff store I/O at {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("handoff record {path} is unreadable: {message}")]
    Corrupt { path: String, message: String },
    #[error("could not find a free record number for {story_id} after {attempts} attempts")]
    Contention { story_id: String, attempts: usize },
    /// A database store's failure; `store` is its URL without the password.
    #[error("handoff store {store}: {message}")]
    Database { store: String, message: String },
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadStoryId(id) => Error::invalid(
                "story_id",
                format!("`{id}` is not a story id (letters, digits, - _ . only)"),
            ),
            other => Error::Store(other),
        }
    }
}

/// An error and its causes on one line, `outer: cause: root cause`, for adapters that show
/// a message rather than an error value (the MCP error text, logs).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_keeps_its_source_and_shows_it_in_the_chain() {
        let e = Error::io(
            "write",
            "/plan/.storypack/packs/A-1.md",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(
            chain(&e),
            "cannot write /plan/.storypack/packs/A-1.md: denied"
        );
        assert_eq!(e.field(), None);
    }

    #[test]
    fn a_store_error_keeps_its_io_source() {
        let e = Error::Store(StoreError::Io {
            path: ".storypack/handoffs/A-1".into(),
            source: std::io::Error::other("disk full"),
        });
        assert_eq!(
            chain(&e),
            "handoff store I/O at .storypack/handoffs/A-1: disk full"
        );
    }
}
