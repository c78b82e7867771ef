//! The agent link as the simulated agents speak it: calls go out already
//! encoded. A re-registration carries the agent's tasks; encoded once
//! whenever they change instead of cloned and encoded at every attempt, it
//! costs the load generator (which shares the machine with the master it
//! measures) a reference count, where 40,000 agents re-registering after a
//! failover spent a quarter of their time cloning tasks.

use bytes::{BufMut, Bytes};
use meseta_proto::cluster::{AgentMessage, MasterMessage};
use prost::Message;
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Status, Streaming};
use tonic_prost::{ProstCodec, ProstDecoder};

/// The link's gRPC method (`meseta.cluster.AgentLink/Attach`).
const ATTACH: &str = "/meseta.cluster.AgentLink/Attach";

/// An `AgentMessage`'s protobuf bytes.
pub fn encoded(message: &AgentMessage) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Writes messages that are already encoded.
#[derive(Debug, Default)]
pub struct EncodedEncoder;

impl Encoder for EncodedEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        // A re-registration is a few KiB: start there rather than grow.
        BufferSettings::new(8 * 1024, 32 * 1024)
    }
}

/// Encoded `AgentMessage`s out, `MasterMessage`s in.
#[derive(Debug, Default, Clone)]
pub struct EncodedLinkCodec;

impl Codec for EncodedLinkCodec {
    type Encode = Bytes;
    type Decode = MasterMessage;
    type Encoder = EncodedEncoder;
    type Decoder = ProstDecoder<MasterMessage>;

    fn encoder(&mut self) -> EncodedEncoder {
        EncodedEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<AgentMessage, MasterMessage>::raw_decoder(BufferSettings::default())
    }
}

/// Opens the agent link on `channel` with `outbound`'s messages.
pub async fn attach(
    channel: Channel,
    outbound: impl tokio_stream::Stream<Item = Bytes> + Send + 'static,
) -> Result<Streaming<MasterMessage>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the master is not reachable: {e}")))?;
    let path = http::uri::PathAndQuery::from_static(ATTACH);
    let response = grpc
        .streaming(tonic::Request::new(outbound), path, EncodedLinkCodec)
        .await?;
    Ok(response.into_inner())
}
