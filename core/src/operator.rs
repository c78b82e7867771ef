//! A client of the operator API (`POST /api/v1` on the master) and of the
//! agents' read endpoints, for tools such as the `meseta` CLI: it finds the
//! leading master the way the drivers do (`HOST:PORT`, `zk://…`,
//! `file://…`), follows a follower's redirect to the leader, and turns every
//! refusal into an [`Error`] carrying the master's own words. The agents'
//! streaming calls (a nested container session's output, its input) go
//! through [`OperatorClient::agent_stream`] and
//! [`OperatorClient::agent_input`].

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meseta_proto::master::{Call, Response};
use meseta_proto::media::PROTOBUF;
use meseta_proto::Message;

use crate::detector::{parse_location, Endpoint, MasterDetector};
use crate::error::{Error, Result};
use crate::http::{body_text, HttpClient, RecordStream, CALL_TIMEOUT};

/// `application/recordio`: a stream of records (the agents' streaming calls).
const RECORDIO: &str = "application/recordio";
/// How each record of a RecordIO answer is to be encoded.
const MESSAGE_ACCEPT: http::HeaderName = http::HeaderName::from_static("message-accept");
/// How each record of a RecordIO request is encoded.
const MESSAGE_CONTENT_TYPE: http::HeaderName =
    http::HeaderName::from_static("message-content-type");

type StreamingBody = BoxBody<Bytes, std::convert::Infallible>;

/// Redirects followed before giving up (a failover may move the leader
/// while we ask).
const MAX_REDIRECTS: usize = 3;

/// Talks to the leading master's operator API and to agents.
pub struct OperatorClient {
    detector: MasterDetector,
    http: HttpClient,
    plain: Client<HttpConnector, Empty<Bytes>>,
    streaming: Client<HttpConnector, StreamingBody>,
}

/// The `ProcessIO` records of an agent's streaming answer (a session's
/// output).
#[derive(Debug)]
pub struct ProcessIoStream {
    records: RecordStream,
}

impl ProcessIoStream {
    /// The next record; `None` once the agent ended the stream.
    pub async fn next(&mut self) -> Result<Option<meseta_proto::agent::ProcessIo>> {
        let Some(record) = self.records.next().await? else {
            return Ok(None);
        };
        meseta_proto::agent::ProcessIo::decode(record.as_slice())
            .map(Some)
            .map_err(|e| Error::Decode {
                message: "mesos.v1.agent.ProcessIO",
                reason: e.to_string(),
            })
    }
}

impl OperatorClient {
    /// A client for a `--master` value. Must be called inside a tokio runtime.
    pub fn new(master: &str) -> Result<Self> {
        Ok(Self {
            detector: MasterDetector::new(master)?,
            http: HttpClient::new(),
            plain: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            streaming: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
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

    /// Sends a call the agent answers with a stream of `ProcessIO` records
    /// (LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_OUTPUT); returns
    /// once the agent has accepted it (only that is bounded by
    /// [`CALL_TIMEOUT`]; the stream lasts as long as the agent keeps it).
    pub async fn agent_stream(
        &self,
        agent: &Endpoint,
        call: &meseta_proto::agent::Call,
    ) -> Result<ProcessIoStream> {
        let body = http_body_util::Full::new(Bytes::from(call.encode_to_vec()))
            .map_err(|never| match never {})
            .boxed();
        let request = Request::builder()
            .method(Method::POST)
            .uri(agent.url("/api/v1"))
            .header(CONTENT_TYPE, PROTOBUF)
            .header(ACCEPT, RECORDIO)
            .header(MESSAGE_ACCEPT, PROTOBUF);
        let response = self.send_streaming(agent, request, body).await?;
        Ok(ProcessIoStream {
            records: RecordStream::new(agent, response.into_body()),
        })
    }

    /// Sends `calls` to the agent as one streaming request
    /// (ATTACH_CONTAINER_INPUT: the first names the container, the rest
    /// carry input); resolves with the agent's answer once `calls` ends
    /// (or the agent refused them).
    pub async fn agent_input(
        &self,
        agent: &Endpoint,
        calls: tokio::sync::mpsc::Receiver<meseta_proto::agent::Call>,
    ) -> Result<()> {
        let frames = futures::stream::unfold(calls, |mut calls| async move {
            let call = calls.recv().await?;
            let record = meseta_proto::recordio::encode(&call.encode_to_vec());
            Some((
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(record))),
                calls,
            ))
        });
        let request = Request::builder()
            .method(Method::POST)
            .uri(agent.url("/api/v1"))
            .header(CONTENT_TYPE, RECORDIO)
            .header(MESSAGE_CONTENT_TYPE, PROTOBUF)
            .header(ACCEPT, PROTOBUF);
        let response = self
            .send_streaming(agent, request, StreamBody::new(frames).boxed())
            .await?;
        collect(agent, response.into_body()).await.map(drop)
    }

    /// Sends a request with a streaming body; its `200` answer, or the
    /// agent's refusal as an error.
    async fn send_streaming(
        &self,
        agent: &Endpoint,
        request: http::request::Builder,
        body: StreamingBody,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let http_error = |reason: String| Error::Http {
            endpoint: agent.to_string(),
            reason,
        };
        let request = request.body(body).map_err(|e| http_error(e.to_string()))?;
        let sent = self.streaming.request(request);
        let response = tokio::time::timeout(CALL_TIMEOUT, sent)
            .await
            .map_err(|_| http_error(format!("no answer within {CALL_TIMEOUT:?}")))?
            .map_err(|e| http_error(e.to_string()))?;
        if response.status() != StatusCode::OK {
            return Err(Error::Status {
                endpoint: agent.to_string(),
                status: response.status().as_u16(),
                body: body_text(response).await,
            });
        }
        Ok(response)
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
