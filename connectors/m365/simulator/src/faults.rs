//! Fault injection: canned 429/5xx answers on one listener, so tests exercise a client's
//! retry and back-off paths (saas-apis.md §2.2 "AF429 / AF50000 = retry", §2.3 Graph 429 with
//! `Retry-After`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::{GraphError, IdentityError, ManageError};
use crate::server::Shared;

/// The simulator's listeners, one per Microsoft host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Listener {
    /// login.microsoftonline.com
    Login,
    /// manage.office.com
    Manage,
    /// graph.microsoft.com
    Graph,
    /// The tenant's `*.sharepoint.com` download URLs.
    Download,
}

/// The next `times` requests to `listener` whose path contains `path_contains` (empty: any
/// path) get `status` instead of their real answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFault {
    pub listener: Listener,
    pub path_contains: String,
    /// 429, 500, 503, ...
    pub status: u16,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u64>,
    pub times: u32,
}

impl HttpFault {
    fn matches(&self, listener: Listener, path: &str) -> bool {
        self.times > 0 && self.listener == listener && path.contains(&self.path_contains)
    }

    /// The canned answer, in the error shape of the listener's service.
    fn response(&self, method: &str) -> Response {
        match self.listener {
            Listener::Login => IdentityError {
                retry_after_secs: self.retry_after,
                ..IdentityError::new(
                    self.status,
                    "temporarily_unavailable",
                    90033,
                    "A transient error has occurred. Please try again (injected fault).",
                )
            }
            .into_response(),
            Listener::Manage => {
                let error = if self.status == 429 {
                    // The documented AF429 message names the method and the publisher id.
                    ManageError::new(
                        429,
                        "AF429",
                        format!("Too many requests. Method={method}, PublisherId=00000000-0000-0000-0000-000000000000"),
                    )
                } else {
                    ManageError::new(
                        self.status,
                        "AF50000",
                        "An internal error occurred. Retry the request.",
                    )
                };
                ManageError {
                    retry_after_secs: self.retry_after,
                    ..error
                }
                .into_response()
            }
            Listener::Graph | Listener::Download => {
                let (code, message) = match self.status {
                    429 => ("TooManyRequests", "Too many requests (injected fault)."),
                    503 => (
                        "serviceNotAvailable",
                        "Service unavailable (injected fault).",
                    ),
                    _ => (
                        "generalException",
                        "An internal error occurred (injected fault).",
                    ),
                };
                GraphError {
                    retry_after_secs: self.retry_after,
                    ..GraphError::new(self.status, code, message)
                }
                .into_response()
            }
        }
    }
}

/// Middleware on every listener: answers with an injected fault when one matches.
pub(crate) async fn inject_faults(
    State((shared, listener)): State<(Arc<Shared>, Listener)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().to_string();
    let injected = shared.with_state(|state| {
        let index = state
            .faults
            .iter()
            .position(|fault| fault.matches(listener, &path))?;
        let fault = &mut state.faults[index];
        fault.times -= 1;
        let answer = fault.response(&method);
        if fault.times == 0 {
            state.faults.remove(index);
        }
        state.faulted_requests += 1;
        Some(answer)
    });
    match injected {
        Some(answer) => answer,
        None => next.run(request).await,
    }
}
