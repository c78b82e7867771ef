//! The web UI: a page and its assets (plain ES modules, CSS, an icon) kept
//! under `server/master/webui/` and built into the binary, so serving it
//! needs no files on disk and building it needs no Node. Every master
//! serves it, leading or not: the page subscribes to the operator API at
//! the master that served it, which redirects to the leader.
//!
//! `/` is the page; `/webui/NAME` an asset (unknown names 404). Everything
//! is `Cache-Control: no-cache` (the browser revalidates, so a new build's
//! UI shows at once) and carries its ETag, the build's content hash.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One file of the UI.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../webui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself.
const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// What `/webui/NAME` serves. A file added under `webui/` must be listed
/// here (a test checks the two agree).
const ASSETS: &[Asset] = &[
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dialog.js", JS),
    asset!("model.js", JS),
    asset!("pages.js", JS),
    asset!("pages_actions.js", JS),
    asset!("pages_agents.js", JS),
    asset!("pages_common.js", JS),
    asset!("pages_frameworks.js", JS),
    asset!("pages_overview.js", JS),
    asset!("pages_roles_offers.js", JS),
    asset!("pages_subject.js", JS),
    asset!("pages_tasks.js", JS),
    asset!("poll.js", JS),
    asset!("sandbox.js", JS),
    asset!("stream.js", JS),
    asset!("table.js", JS),
    asset!("util.js", JS),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The page may talk to any master and agent (they are other origins),
/// but runs only its own scripts and styles and is never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src *; \
     img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A validator for a file: FNV-1a of its bytes, fixed for the build.
fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset.body);
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    response
}

/// `GET /`: the page.
pub(super) async fn index(request: HeaderMap) -> Response {
    let mut response = serve(&INDEX, &request);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// `GET /webui/NAME`: one asset.
pub(super) async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, &request),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("No web UI file {name:?}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `webui/` is served, and nothing else is listed.
    #[test]
    fn every_file_of_the_ui_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webui");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("webui dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name != "index.html")
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    /// The modules import only modules that are served (`from './x.js'`,
    /// `import('./x.js')`), and at least the ones we know they do.
    #[test]
    fn imports_name_served_modules() {
        let mut seen = 0;
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(asset.body).expect("UTF-8");
            for marker in ["from './", "from \"./", "import('./"] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let name = &rest[..rest.find(['\'', '"']).expect("closing quote")];
                    assert!(
                        ASSETS.iter().any(|a| a.name == name),
                        "{} imports ./{name}, which is not served",
                        asset.name
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen >= 10, "only {seen} imports found");
    }

    #[test]
    fn etags_differ_with_content() {
        assert_ne!(etag(b"a"), etag(b"b"));
        assert_eq!(etag(INDEX.body), etag(INDEX.body));
    }
}
