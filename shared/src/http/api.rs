//! The external REST API function.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use crate::core::Core;

/// Routes owned by the api function (everything outside `/oauth` and `/webhooks`).
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|State(core): State<Core>| async move {
                let mut health = super::health("api");
                health.detectors = core
                    .threats()
                    .status()
                    .into_iter()
                    .map(|(name, on, detail)| super::DetectorHealth { name, on, detail })
                    .collect();
                health
            }),
        )
        .with_state(core)
}

/// The api function's router as deployed alone.
pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}
