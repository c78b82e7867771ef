//! A small HTTP/1.1 client (hyper 1 + hyper-util) with just what the Mesos
//! v1 APIs need: `POST` a body, then either read a short answer or stream a
//! RecordIO response.
//!
//! The connection pool keeps the subscription (whose response never ends)
//! and the other calls on separate connections, as both APIs require: a
//! connection whose response is still streaming is never handed out again.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use meseta_proto::recordio;

use crate::codec::ContentType;
use crate::detector::Endpoint;
use crate::error::{Error, Result};

/// The header naming a scheduler's subscription on every later call.
pub(crate) const STREAM_ID_HEADER: HeaderName = HeaderName::from_static("mesos-stream-id");

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a non-streaming call (send + response head + body).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest error body we keep.
const MAX_ERROR_BODY: usize = 4096;

/// A cloneable client; clones share one connection pool.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    /// Must be called inside a tokio runtime (the pool spawns tasks).
    pub(crate) fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { client }
    }

    /// `POST http://endpoint/path` with `body`; resolves when the response
    /// head has arrived.
    pub(crate) async fn post(
        &self,
        endpoint: &Endpoint,
        path: &str,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Result<Response<Incoming>> {
        let http_error = |reason: String| Error::Http {
            endpoint: endpoint.to_string(),
            reason,
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(endpoint.url(path))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| http_error(e.to_string()))?;
        request.headers_mut().extend(headers.clone());
        self.client
            .request(request)
            .await
            .map_err(|e| http_error(error_chain(&e)))
    }
}

/// Request headers for one call.
pub(crate) fn call_headers(
    content_type: ContentType,
    authorization: Option<&HeaderValue>,
    stream_id: Option<&HeaderValue>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mime = HeaderValue::from_static(content_type.mime());
    headers.insert(CONTENT_TYPE, mime.clone());
    headers.insert(ACCEPT, mime);
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, value.clone());
    }
    if let Some(value) = stream_id {
        headers.insert(STREAM_ID_HEADER, value.clone());
    }
    headers
}

/// `Authorization: Basic base64(principal:secret)`.
pub(crate) fn basic_auth(principal: &str, secret: &str) -> Option<HeaderValue> {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"));
    let mut value = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// `Authorization: Bearer token`.
pub(crate) fn bearer_auth(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The response body as (lossy, trimmed, bounded) text, for error messages.
pub(crate) async fn body_text(response: Response<Incoming>) -> String {
    let mut body = response.into_body();
    let mut text = Vec::new();
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                text.extend_from_slice(&data);
                if text.len() >= MAX_ERROR_BODY {
                    break;
                }
            }
        }
    };
    // The body of an error answer is short; do not wait on a stuck peer.
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    text.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&text).trim().to_string()
}

/// The records of a streaming RecordIO response.
#[derive(Debug)]
pub(crate) struct RecordStream {
    body: Incoming,
    decoder: recordio::Decoder,
    endpoint: String,
}

impl RecordStream {
    pub(crate) fn new(endpoint: &Endpoint, body: Incoming) -> Self {
        Self {
            body,
            decoder: recordio::Decoder::new(),
            endpoint: endpoint.to_string(),
        }
    }

    /// The next record; `Ok(None)` when the peer closed the stream.
    ///
    /// Cancel-safe: bytes are moved into the decoder only once a frame has
    /// been received, so dropping the future loses nothing.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(Error::Http {
                        endpoint: self.endpoint.clone(),
                        reason: error_chain(&e),
                    })
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }
}

/// An error and its sources, `: `-separated (hyper's top-level messages
/// alone are often just "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
