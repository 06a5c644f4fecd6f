//! The OAuth callback function: connect and disconnect integrations.

use axum::routing::get;
use axum::Router;

use crate::core::Core;

/// Routes owned by the oauth-callback function, under `/oauth`.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/oauth/healthz",
            get(|| async { super::health("oauth-callback") }),
        )
        .with_state(core)
}

pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}
