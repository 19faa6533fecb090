//! Errors sorted by whose fault they are: the user's config, an unreadable input, the lake, or a bug.

use std::path::PathBuf;

/// The error type of every fallible function in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file or a command-line value is wrong: the user can fix it.
    #[error("configuration: {0}")]
    Config(String),

    /// An input file cannot be read at all (truncated, wrong columns, not XML …).
    /// Row-level problems never become this error: they are quarantined.
    #[error("input `{}`: {message}", path.display())]
    Input { path: PathBuf, message: String },

    /// Same as `Input`, keeping the underlying cause.
    #[error("input `{}`: {message}", path.display())]
    InputCaused {
        path: PathBuf,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Reading or writing a file failed at the operating-system level.
    #[error("{action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A query given by the user (e.g. `ifr sql`) is invalid.
    #[error("query: {0}")]
    Query(String),

    /// A polars operation failed while working on data ifr wrote itself (the lake, the frames it
    /// builds): never the user's input, which is read into `Input` errors. A lake file that cannot
    /// be read is a damaged lake (exit 1, with the remedy); anything else is a bug in ifr (exit 2).
    #[error("{context}{}", polars_remedy(source))]
    Polars {
        context: String,
        #[source]
        source: polars::error::PolarsError,
    },

    /// The query engine outside polars (DataFusion, a Ballista cluster) failed: a cluster that
    /// cannot be reached, executors that cannot read the lake, a query it rejects. The user's to
    /// fix (the message names the engine and the query); `--engine polars` always runs.
    #[error("engine {engine}: {message}")]
    Engine { engine: String, message: String },

    /// Another ifr run is writing the same folder: try again when it is done.
    #[error("{0}")]
    Busy(String),

    /// Something that should never happen: a bug in ifr.
    #[error("internal error (a bug in ifr, please report it): {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }

    pub fn input_caused(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::InputCaused { path: path.into(), message: message.into(), source: Box::new(source) }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    pub fn polars(context: impl Into<String>, source: polars::error::PolarsError) -> Self {
        Error::Polars { context: context.into(), source }
    }

    /// True when the user can fix the problem (exit code 1), false for ifr's own faults (2).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Internal(_) => false,
            Error::Polars { source, .. } => lake_unreadable(source),
            _ => true,
        }
    }
}

/// A file of the lake could not be read (missing, unreadable): polars' IO error.
fn lake_unreadable(e: &polars::error::PolarsError) -> bool {
    matches!(e, polars::error::PolarsError::IO { .. })
}

fn polars_remedy(e: &polars::error::PolarsError) -> &'static str {
    if lake_unreadable(e) {
        " (a file of the lake could not be read: `ifr ingest` rebuilds what is missing)"
    } else {
        " (internal error: a bug in ifr, please report it; if the lake was written by another version of ifr or damaged, `ifr ingest` rebuilds it)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::error::PolarsError;

    /// A lake file that cannot be read is the user's to fix (exit 1) with the remedy named; any
    /// other polars failure on ifr's own data is a bug (exit 2). The cause is kept as the source.
    #[test]
    fn polars_errors_say_whose_fault_they_are() {
        let io = PolarsError::IO { error: std::sync::Arc::new(std::io::Error::other("gone")), msg: None };
        let e = Error::polars("reading `lake/transfers/…`", io);
        assert!(e.is_user_error());
        assert!(e.to_string().contains("`ifr ingest` rebuilds what is missing"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let bug = Error::polars("query actor_flows", PolarsError::ComputeError("boom".into()));
        assert!(!bug.is_user_error());
        assert!(bug.to_string().contains("a bug in ifr"), "{bug}");
        assert!(!Error::Internal("x".into()).is_user_error());
        assert!(Error::Config("x".into()).is_user_error());
    }
}
