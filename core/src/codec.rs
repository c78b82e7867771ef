//! Request and event encodings: binary protobuf (the default) or Mesos JSON.

use meseta_proto::{json, Message};

use crate::error::{Error, Result};

/// How calls are encoded and events requested (`Content-Type` / `Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContentType {
    /// `application/x-protobuf`.
    #[default]
    Protobuf,
    /// `application/json`, in Mesos's JSON mapping.
    Json,
}

impl ContentType {
    /// The media type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    pub(crate) fn encode<M: Message + prost::Name>(self, message: &M) -> Vec<u8> {
        match self {
            Self::Protobuf => message.encode_to_vec(),
            Self::Json => json::to_vec(message),
        }
    }

    pub(crate) fn decode<M: Message + prost::Name + Default>(
        self,
        bytes: &[u8],
        name: &'static str,
    ) -> Result<M> {
        let decode_error = |reason: String| Error::Decode {
            message: name,
            reason,
        };
        match self {
            Self::Protobuf => M::decode(bytes).map_err(|e| decode_error(e.to_string())),
            Self::Json => json::from_slice(bytes).map_err(|e| decode_error(e.to_string())),
        }
    }
}
