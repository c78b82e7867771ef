//! The master's HTTP surface: the v1 scheduler API and the read-only JSON
//! endpoints existing Mesos tools use. Handlers only parse and format; every
//! decision is made by the state machine inside the driver loop.

pub(crate) mod batches;
mod endpoints;
mod files;
mod json_view;
mod operator;
mod prometheus;
mod rendering;
mod roles;

pub(crate) use operator::{fan_out, MAX_SUBSCRIBERS as MAX_OPERATOR_SUBSCRIBERS};
mod maintenance;
mod quota;
mod scheduler_api;
mod webui;
mod weights;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;

use crate::handle::MasterHandle;

/// The Mesos version we report (the API level we are compatible with).
pub use meseta_proto::MESOS_VERSION;

/// `/master/state` as the endpoint writes it, from a snapshot (for
/// benchmarks: what rendering costs now that it happens outside the loop).
pub fn render_state(
    mut snapshot: crate::state::snapshot::Snapshot,
    info: &meseta_proto::v1::MasterInfo,
) -> Vec<u8> {
    snapshot.sort();
    let document = endpoints::state_document(&snapshot, info, Some(info), &Default::default());
    serde_json::to_vec(&document).unwrap_or_default()
}

pub(crate) fn router(handle: MasterHandle) -> Router {
    Router::new()
        .route("/api/v1", post(operator::handle))
        .route("/master/api/v1", post(operator::handle))
        .route("/api/v1/scheduler", post(scheduler_api::handle))
        .route("/master/api/v1/scheduler", post(scheduler_api::handle))
        .route("/master/state", get(endpoints::state))
        .route("/master/state.json", get(endpoints::state))
        .route("/state", get(endpoints::state))
        .route("/state.json", get(endpoints::state))
        .route("/master/state-summary", get(endpoints::state_summary))
        .route("/state-summary", get(endpoints::state_summary))
        .route("/master/frameworks", get(endpoints::frameworks))
        .route("/frameworks", get(endpoints::frameworks))
        .route("/master/slaves", get(endpoints::slaves))
        .route("/slaves", get(endpoints::slaves))
        .route("/master/tasks", get(endpoints::tasks))
        .route("/tasks", get(endpoints::tasks))
        .route("/metrics/snapshot", get(endpoints::metrics))
        .route("/metrics", get(prometheus::metrics))
        .route("/master/redirect", get(endpoints::redirect))
        .route("/redirect", get(endpoints::redirect))
        .route("/master/health", get(endpoints::health))
        .route("/health", get(endpoints::health))
        .route("/version", get(endpoints::version))
        .route("/master/roles", get(roles::get))
        .route("/master/roles.json", get(roles::get))
        .route("/roles", get(roles::get))
        .route("/roles.json", get(roles::get))
        .route("/master/weights", get(weights::get).put(weights::put))
        .route("/weights", get(weights::get).put(weights::put))
        .route(
            "/master/maintenance/schedule",
            get(maintenance::get_schedule).post(maintenance::post_schedule),
        )
        .route(
            "/maintenance/schedule",
            get(maintenance::get_schedule).post(maintenance::post_schedule),
        )
        .route("/master/maintenance/status", get(maintenance::get_status))
        .route("/maintenance/status", get(maintenance::get_status))
        .route("/master/machine/down", post(maintenance::machine_down))
        .route("/machine/down", post(maintenance::machine_down))
        .route("/master/machine/up", post(maintenance::machine_up))
        .route("/machine/up", post(maintenance::machine_up))
        .route("/master/quota", get(quota::get).post(quota::post))
        .route("/quota", get(quota::get).post(quota::post))
        .route("/master/quota/{*role}", delete(quota::delete))
        .route("/quota/{*role}", delete(quota::delete))
        .route("/files/browse", get(files::browse))
        .route("/files/browse.json", get(files::browse))
        .route("/files/read", get(files::read))
        .route("/files/read.json", get(files::read))
        .route("/files/download", get(files::download))
        .route("/files/download.json", get(files::download))
        .route("/files/debug", get(files::debug))
        .route("/files/debug.json", get(files::debug))
        .route("/", get(webui::index))
        .route("/webui/{*name}", get(webui::asset))
        .with_state(handle)
        .layer(cors())
}

/// A plain-text answer (the v1 APIs' errors are text a person can act on).
pub(crate) fn text_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// The answer to headers or a body that cannot be served.
pub(crate) fn media_error(e: meseta_proto::media::MediaError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    text_error(status, e.message)
}

/// `None` on the leading master; on a follower, its answer to a call at
/// `path`: `307` to the same path on the leader, or `503` while no master
/// leads.
pub(crate) fn unless_leading(master: &MasterHandle, path: &str) -> Option<Response> {
    use crate::leadership::{self, Leadership};
    match master.leadership() {
        Leadership::Leading => None,
        Leadership::Following(Some(leader)) => {
            let location = format!("{}{path}", leadership::location(&leader));
            Some(
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
            )
        }
        Leadership::Following(None) => Some(text_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "No master is currently leading",
        )),
        Leadership::Recovering => Some(text_error(
            StatusCode::SERVICE_UNAVAILABLE,
            leadership::RECOVERING,
        )),
    }
}

/// Browsers may call every endpoint from any origin: the web UI served by
/// one master talks to the leader (a follower redirects there) and to the
/// agents. (Nothing here is authenticated yet; when it is, the origins
/// allowed will follow.)
pub(crate) fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mesos-stream-id"),
        ])
        .expose_headers([header::LOCATION, HeaderName::from_static("mesos-stream-id")])
}
