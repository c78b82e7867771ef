//! A client of the operator API (`POST /api/v1` on the master) and of the
//! agents' read endpoints, for tools such as the `meseta` CLI: it finds the
//! leading master the way the drivers do (`HOST:PORT`, `zk://…`,
//! `file://…`), follows a follower's redirect to the leader, and turns every
//! refusal into an [`Error`] carrying the master's own words.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meseta_proto::master::{Call, Response};
use meseta_proto::media::PROTOBUF;
use meseta_proto::Message;

use crate::detector::{parse_location, Endpoint, MasterDetector};
use crate::error::{Error, Result};
use crate::http::{body_text, HttpClient, CALL_TIMEOUT};

/// Redirects followed before giving up (a failover may move the leader
/// while we ask).
const MAX_REDIRECTS: usize = 3;

/// Talks to the leading master's operator API and to agents.
pub struct OperatorClient {
    detector: MasterDetector,
    http: HttpClient,
    plain: Client<HttpConnector, Empty<Bytes>>,
}

impl OperatorClient {
    /// A client for a `--master` value. Must be called inside a tokio runtime.
    pub fn new(master: &str) -> Result<Self> {
        Ok(Self {
            detector: MasterDetector::new(master)?,
            http: HttpClient::new(),
            plain: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        })
    }

    /// The leading master's address.
    pub async fn leader(&mut self) -> Result<Endpoint> {
        Ok(self.detector.detect().await?)
    }

    /// Sends `call` to the leading master; its `Response`, or `None` for
    /// calls answered with an empty `200` (those that change the cluster).
    pub async fn call(&mut self, call: &Call) -> Result<Option<Response>> {
        let body = call.encode_to_vec();
        for _ in 0..=MAX_REDIRECTS {
            let endpoint = self.detector.detect().await?;
            let response = match self.post(&endpoint, body.clone()).await {
                Ok(response) => response,
                Err(error) => {
                    self.detector.failed(&endpoint);
                    return Err(error);
                }
            };
            if response.status() == StatusCode::TEMPORARY_REDIRECT {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let leader = parse_location(&location, &endpoint)?;
                self.detector.redirected(&leader);
                continue;
            }
            return answer(&endpoint, response, "mesos.v1.master.Response").await;
        }
        Err(Error::TooManyRedirects(MAX_REDIRECTS))
    }

    /// Sends `call` to the agent at `agent` (its operator API); its
    /// `Response`, or `None` for an empty `200`.
    pub async fn agent_call(
        &self,
        agent: &Endpoint,
        call: &meseta_proto::agent::Call,
    ) -> Result<Option<meseta_proto::agent::Response>> {
        let response = self.post(agent, call.encode_to_vec()).await?;
        answer(agent, response, "mesos.v1.agent.Response").await
    }

    /// `POST /api/v1` in protobuf, bounded by [`CALL_TIMEOUT`].
    async fn post(
        &self,
        endpoint: &Endpoint,
        body: Vec<u8>,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
        headers.insert(ACCEPT, HeaderValue::from_static(PROTOBUF));
        let sent = self.http.post(endpoint, "/api/v1", &headers, body);
        tokio::time::timeout(CALL_TIMEOUT, sent)
            .await
            .map_err(|_| Error::Http {
                endpoint: endpoint.to_string(),
                reason: format!("no answer within {CALL_TIMEOUT:?}"),
            })?
    }

    /// `GET http://endpoint/path` (an agent's `/files/read`, `/state`, …);
    /// the status and the whole body, within `timeout`.
    pub async fn get(
        &self,
        endpoint: &Endpoint,
        path: &str,
        timeout: Duration,
    ) -> Result<(u16, Bytes)> {
        let http_error = |reason: String| Error::Http {
            endpoint: endpoint.to_string(),
            reason,
        };
        let request = Request::builder()
            .method(Method::GET)
            .uri(endpoint.url(path))
            .body(Empty::new())
            .map_err(|e| http_error(e.to_string()))?;
        let answer = async {
            let response = self
                .plain
                .request(request)
                .await
                .map_err(|e| http_error(e.to_string()))?;
            let status = response.status().as_u16();
            let body = collect(endpoint, response.into_body()).await?;
            Ok((status, body))
        };
        tokio::time::timeout(timeout, answer)
            .await
            .map_err(|_| http_error(format!("no answer within {timeout:?}")))?
    }
}

async fn collect(endpoint: &Endpoint, body: hyper::body::Incoming) -> Result<Bytes> {
    body.collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| Error::Http {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })
}

/// An operator API answer: the decoded `200` body (`None` when empty), or
/// the peer's refusal in its own words.
async fn answer<M: Message + Default>(
    endpoint: &Endpoint,
    response: http::Response<hyper::body::Incoming>,
    message: &'static str,
) -> Result<Option<M>> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(Error::Status {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            body: body_text(response).await,
        });
    }
    let bytes = collect(endpoint, response.into_body()).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    M::decode(bytes).map(Some).map_err(|e| Error::Decode {
        message,
        reason: e.to_string(),
    })
}
