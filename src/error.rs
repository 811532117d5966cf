//! The library's error type: what a caller asked for that cannot be given. Every variant
//! names the input field at fault so adapters can show it as is.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
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
}

impl Error {
    pub fn invalid(field: &'static str, message: String) -> Self {
        Error::Invalid { field, message }
    }

    pub fn not_found(field: &'static str, message: String) -> Self {
        Error::NotFound { field, message }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } | Error::NotFound { field, .. } => Some(field),
            Error::Plan(_) => None,
        }
    }
}
