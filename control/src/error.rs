//! Errors of the control plane. Every variant names the object (kind ns/name)
//! and, for invalid input, the field path, so a user can find the bad line.

use thiserror::Error;

/// A problem at one field of one input object, before the object's name is
/// attached (decoders do not know which object they are in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path from the object root, e.g. `spec.switches[0].ports`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Everything the Store API can refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    /// The text is not YAML/JSON at all.
    #[error("document {doc}: cannot parse: {message}")]
    Syntax { doc: usize, message: String },

    /// An object breaks the schema or a limit. `object` is `Kind ns/name`
    /// (or `Kind in document N` when the name itself is missing).
    #[error("{object}: {path}: {message}")]
    Invalid {
        object: String,
        path: String,
        message: String,
    },

    /// The same object appears twice in one batch.
    #[error("{object}: appears more than once in this batch (documents {first} and {second})")]
    Duplicate {
        object: String,
        first: usize,
        second: usize,
    },

    /// Two objects would produce the same per-node object on this node.
    #[error("{object}: {message}")]
    Conflict { object: String, message: String },

    /// delete/get of an object that is not in the store.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        kind: String,
        namespace: String,
        name: String,
    },

    /// A kind name the store does not hold (e.g. in `delete`).
    #[error("unknown kind {0:?}: expected one of DPUServiceChain, ServiceChainSet, ServiceChain, DPUServiceInterface, ServiceInterfaceSet, ServiceInterface")]
    UnknownKind(String),

    /// A snapshot that cannot be restored.
    #[error("snapshot: {0}")]
    Snapshot(String),
}

impl ControlError {
    pub(crate) fn invalid(object: &str, e: FieldError) -> Self {
        ControlError::Invalid {
            object: object.to_string(),
            path: e.path,
            message: e.message,
        }
    }
}
