//! The media types of Mesos's v1 HTTP APIs (scheduler, executor, operator)
//! and how a request chooses them: `Content-Type` says how the call is
//! encoded, `Accept` how the answer must be. Every API answers the same way
//! when a header is missing or names something else, so the rules live here
//! once; the servers only turn a [`MediaError`] into their HTTP response.

use std::fmt;

/// `application/x-protobuf`.
pub const PROTOBUF: &str = "application/x-protobuf";
/// `application/json`.
pub const JSON: &str = "application/json";

/// How a call or an answer is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Mesos's JSON mapping ([`crate::json`]).
    Json,
    /// The protobuf wire format.
    Protobuf,
}

impl Encoding {
    /// The media type written in `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => JSON,
            Encoding::Protobuf => PROTOBUF,
        }
    }

    /// Encodes a message in this encoding.
    pub fn encode<M: prost::Message + prost::Name>(self, message: &M) -> Vec<u8> {
        match self {
            Encoding::Json => crate::json::to_vec(message),
            Encoding::Protobuf => message.encode_to_vec(),
        }
    }
}

/// Why a request's headers cannot be served, with the HTTP status Mesos
/// answers it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaError {
    /// 400 (no `Content-Type`), 415 (an unsupported one) or 406 (nothing
    /// acceptable in `Accept`).
    pub status: u16,
    /// What to tell the client.
    pub message: String,
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for MediaError {}

/// Decodes a call's body in `encoding`: JSON in Mesos's mapping, or
/// protobuf with every required field present (as proto2 parsers insist).
/// The error is the `400` text every v1 API answers with.
pub fn decode<M: prost::Message + prost::Name + Default>(
    encoding: Encoding,
    body: &[u8],
) -> Result<M, MediaError> {
    let bad = |reason: String| MediaError {
        status: 400,
        message: format!("Failed to parse body into {}: {reason}", M::NAME),
    };
    match encoding {
        Encoding::Json => crate::json::from_slice::<M>(body).map_err(|e| bad(e.to_string())),
        Encoding::Protobuf => {
            let message = M::decode(body).map_err(|e| bad(e.to_string()))?;
            crate::json::check_required(&message).map_err(|e| bad(e.to_string()))?;
            Ok(message)
        }
    }
}

/// The media type of a header value, without parameters, lower case.
fn essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The encoding of a call from its `Content-Type` header (absent: `None`).
pub fn content_type(value: Option<&str>) -> Result<Encoding, MediaError> {
    let Some(value) = value else {
        return Err(MediaError {
            status: 400,
            message: "Expecting 'Content-Type' to be present".into(),
        });
    };
    match essence(value).as_str() {
        JSON => Ok(Encoding::Json),
        PROTOBUF => Ok(Encoding::Protobuf),
        other => Err(MediaError {
            status: 415,
            message: format!("Expecting 'Content-Type' of {JSON} or {PROTOBUF}, got '{other}'"),
        }),
    }
}

/// The encoding of the answer from the `Accept` header: the first of ours
/// it names, `default` for a wildcard or no header.
pub fn accept(value: Option<&str>, default: Encoding) -> Result<Encoding, MediaError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let mut wildcard = false;
    for media in value.split(',').map(essence) {
        match media.as_str() {
            JSON => return Ok(Encoding::Json),
            PROTOBUF => return Ok(Encoding::Protobuf),
            "*/*" | "application/*" | "" => wildcard = true,
            _ => {}
        }
    }
    if wildcard {
        Ok(default)
    } else {
        Err(MediaError {
            status: 406,
            message: format!("Expecting 'Accept' to allow {JSON} or {PROTOBUF}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_content_type_is_a_bad_request_and_an_unknown_one_unsupported() {
        assert_eq!(content_type(None).unwrap_err().status, 400);
        let unknown = content_type(Some("text/plain")).unwrap_err();
        assert_eq!(unknown.status, 415);
        assert!(unknown.message.contains("text/plain"), "{unknown}");
        assert_eq!(content_type(Some("")).unwrap_err().status, 415);
    }

    #[test]
    fn content_types_are_read_without_parameters_or_case() {
        assert_eq!(
            content_type(Some("Application/JSON; charset=utf-8")),
            Ok(Encoding::Json)
        );
        assert_eq!(
            content_type(Some("application/x-protobuf")),
            Ok(Encoding::Protobuf)
        );
    }

    #[test]
    fn accept_takes_the_first_of_ours_a_wildcard_or_refuses() {
        assert_eq!(accept(None, Encoding::Protobuf), Ok(Encoding::Protobuf));
        assert_eq!(
            accept(
                Some("text/html, application/x-protobuf;q=0.9, application/json"),
                Encoding::Json
            ),
            Ok(Encoding::Protobuf)
        );
        assert_eq!(accept(Some("*/*"), Encoding::Json), Ok(Encoding::Json));
        assert_eq!(
            accept(Some("text/html"), Encoding::Json)
                .unwrap_err()
                .status,
            406
        );
    }
}
