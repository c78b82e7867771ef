//! The codec of the master ↔ agent gRPC link: tonic's prost codec with
//! small buffers. A master holds one stream per agent for the agent's
//! whole life, and tonic's default buffers (8 KiB to encode and 8 KiB to
//! decode, per stream) would be most of what an idle agent costs it at
//! tens of thousands of agents; the link's messages are small, and a large
//! one (a re-registration with many tasks) grows the buffer as needed.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Bytes a stream's buffers start with.
const BUFFER: usize = 512;
/// Bytes encoded before a stream yields to others (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`ProstCodec`] with [`BUFFER`]-byte buffers.
#[derive(Debug, Clone, Default)]
pub struct LinkCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Codec for LinkCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(BUFFER, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(BufferSettings::new(BUFFER, YIELD_THRESHOLD))
    }
}
