//! Why a request could not be answered: a status and a message, shown as JSON by the
//! API and as a page by the pages.

use axum::http::StatusCode;

use crate::runtime::RuntimeError;

/// A request's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The HTTP status to answer with.
    pub(crate) status: StatusCode,
    /// What went wrong, for a person.
    pub(crate) message: String,
}

impl Failure {
    /// Something asked for is not there (404).
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// The request is wrong (400).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The launcher refused or failed (409: the deployment's state or a lock is in
    /// the way, as its message says).
    pub(crate) fn launcher(deployment: &str, message: String) -> Self {
        Failure {
            status: StatusCode::CONFLICT,
            message: format!("deployment `{deployment}`: {message}"),
        }
    }

    /// Deployment `name` is unknown.
    pub(crate) fn no_deployment(name: &str) -> Self {
        Failure::not_found(format!("no deployment named `{name}`"))
    }
}

impl From<RuntimeError> for Failure {
    fn from(error: RuntimeError) -> Self {
        let status = match error {
            RuntimeError::RunNotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure {
            status,
            message: error.to_string(),
        }
    }
}
