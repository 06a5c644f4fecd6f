//! The webhook intake function: verify, dedupe, enqueue, answer fast.

use axum::routing::get;
use axum::Router;

use crate::core::Core;

/// Routes owned by the webhook-intake function, under `/webhooks`.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/webhooks/healthz",
            get(|| async { super::health("webhook-intake") }),
        )
        .with_state(core)
}

pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}
