//! The agent's HTTP server: the executor API, state, metrics (JSON and
//! Prometheus), health and sandbox files, on one axum router.
//!
//! Handlers only parse and answer; the decisions live in the operation
//! modules. Unknown paths answer 404, wrong methods 405, bad input 400 with
//! a message a person can act on.

pub mod files;
mod monitor;
mod operator;
mod operator_files;
mod operator_sessions;
mod prometheus;
pub mod state;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::inner::Inner;

/// Largest executor call accepted (updates may carry `data`).
const MAX_CALL_BYTES: usize = 64 * 1024 * 1024;

/// Every route the agent serves.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(
            "/api/v1/executor",
            post(crate::executor_api::handle).layer(DefaultBodyLimit::max(MAX_CALL_BYTES)),
        )
        .route("/api/v1", post(operator::handle))
        .route("/slave(1)/api/v1", post(operator::handle))
        .route("/state", get(state::state))
        .route("/state.json", get(state::state))
        .route("/slave(1)/state", get(state::state))
        .route("/slave(1)/state.json", get(state::state))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/slave(1)/health", get(|| async { StatusCode::OK }))
        .route("/metrics/snapshot", get(state::metrics))
        .route("/metrics", get(prometheus::metrics))
        .route("/monitor/statistics", get(monitor::statistics))
        .route("/slave(1)/monitor/statistics", get(monitor::statistics))
        .route("/files/browse", get(files::browse))
        .route("/files/browse.json", get(files::browse))
        .route("/files/read", get(files::read))
        .route("/files/read.json", get(files::read))
        .route("/files/download", get(files::download))
        .route("/files/download.json", get(files::download))
        .fallback(|| async { (StatusCode::NOT_FOUND, "No such endpoint on this agent") })
        .with_state(inner)
        .layer(cors())
}

/// A plain-text answer (the v1 APIs' errors are text a person can act on).
pub(crate) fn text_error(
    status: StatusCode,
    message: impl Into<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        message.into(),
    )
        .into_response()
}

/// The answer to headers or a body that cannot be served.
pub(crate) fn media_error(e: meseta_proto::media::MediaError) -> axum::response::Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    text_error(status, e.message)
}

/// Browsers may read the agent from any origin: the web UI is served by
/// the masters and reads sandboxes and containers here. (Nothing here is
/// authenticated yet; when it is, the origins allowed will follow.)
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
}
