//! The agents' side door: the `AgentLink.Attach` gRPC stream.
//!
//! Each stream gets a link ID; inbound messages go to the driver loop as
//! they arrive, and the loop's messages for the agent flow back out. When
//! either side drops, the loop is told the link is gone.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use meseta_proto::cluster::agent_link_server::{AgentLink, AgentLinkServer};
use meseta_proto::cluster::{AgentMessage, MasterMessage};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::handle::{Command, MasterHandle};
use crate::leadership::{Leadership, RECOVERING};

/// How long an agent that attaches while this master recovers its registry
/// is held before it is told to come back (reading 100,000 agents' registry
/// takes a few seconds).
const RECOVERY_HOLD: std::time::Duration = std::time::Duration::from_secs(30);
/// How long an agent's attach to a following master waits for it to be
/// elected before it is refused.
const ELECTION_HOLD: std::time::Duration = std::time::Duration::from_secs(2);

/// Routes for the gRPC service, to merge into the HTTP router. What no
/// route matches is answered by [`unmatched`].
pub(crate) fn router(handle: MasterHandle) -> axum::Router {
    tonic::service::Routes::new(AgentLinkServer::new(LinkService { handle }))
        .into_axum_router()
        .fallback(unmatched)
}

/// A path nothing serves: gRPC clients get gRPC's UNIMPLEMENTED (as
/// tonic's own fallback would), everyone else a plain `404 Not Found`.
async fn unmatched(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return Status::unimplemented("").into_http::<axum::body::Body>();
    }
    (
        axum::http::StatusCode::NOT_FOUND,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        format!("No endpoint at {}\n", request.uri().path()),
    )
        .into_response()
}

struct LinkService {
    handle: MasterHandle,
}

type Outbound = Pin<Box<dyn Stream<Item = Result<MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentLink for LinkService {
    type AttachStream = Outbound;

    async fn attach(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Outbound>, Status> {
        let mut leadership = self.handle.leadership();
        if matches!(leadership, Leadership::Following(_)) {
            // Agents watch the same ZooKeeper node: one that comes here
            // as soon as the old leader's node is gone is often a moment
            // ahead of this master learning that it leads. Refused, it
            // would back off for seconds.
            leadership = self.handle.leadership_won(ELECTION_HOLD).await;
        }
        if leadership == Leadership::Recovering {
            leadership = self.handle.leadership_settled(RECOVERY_HOLD).await;
        }
        if leadership == Leadership::Recovering {
            return Err(Status::unavailable(RECOVERING));
        }
        if let Leadership::Following(leader) = leadership {
            let leader = leader
                .map(|info| crate::leadership::location(&info))
                .unwrap_or_else(|| "unknown".into());
            return Err(Status::unavailable(format!(
                "this master is not leading (leader: {leader})"
            )));
        }
        let remote = request.remote_addr();
        let mut inbound = request.into_inner();
        let link = self.handle.next_id();
        let (tx, rx) = mpsc::channel(crate::outputs::AGENT_QUEUE);
        self.handle
            .send(Command::AgentAttached { link, messages: tx })
            .await;
        tracing::debug!(link, ?remote, "agent stream opened");
        let handle = self.handle.clone();
        tokio::spawn(async move {
            loop {
                match inbound.next().await {
                    Some(Ok(message)) => {
                        let message = Box::new(message);
                        handle.send(Command::AgentMessage { link, message }).await
                    }
                    Some(Err(status)) => {
                        tracing::debug!(link, %status, "agent stream failed");
                        break;
                    }
                    None => break,
                }
            }
            handle.send(Command::AgentGone { link }).await;
        });
        let outbound = ReceiverStream::new(rx).map(|message| Ok(*message));
        Ok(Response::new(Box::pin(outbound)))
    }
}
