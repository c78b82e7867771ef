//! RecordIO: the framing Mesos uses for event streams. Each record is its
//! length in bytes as ASCII decimal, a `\n`, then the record itself.

use bytes::{Buf, BytesMut};

/// Longest record we accept (Mesos offers for big clusters can be large,
/// but a length beyond this is a corrupt stream, not a message).
pub const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

/// Errors of a malformed stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordIoError {
    /// The length prefix is not a decimal number.
    #[error("RecordIO length prefix is not a decimal number: {0:?}")]
    BadLength(String),
    /// The length prefix exceeds [`MAX_RECORD_BYTES`].
    #[error("RecordIO record of {0} bytes exceeds the limit")]
    TooLarge(usize),
}

/// Frames one record.
pub fn encode(record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + 12);
    append(&mut out, record);
    out
}

/// Frames one record at the end of `out` (several records in one buffer).
pub fn append(out: &mut Vec<u8>, record: &[u8]) {
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(record);
}

/// Incremental decoder: feed it bytes as they arrive, take whole records out.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: BytesMut,
    pending_len: Option<usize>,
}

impl Decoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// The next complete record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordIoError> {
        if self.pending_len.is_none() {
            let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') else {
                if self.buffer.len() > 20 {
                    let text = String::from_utf8_lossy(&self.buffer[..20]).into_owned();
                    return Err(RecordIoError::BadLength(text));
                }
                return Ok(None);
            };
            let text = String::from_utf8_lossy(&self.buffer[..newline]).into_owned();
            let len: usize = text
                .trim()
                .parse()
                .map_err(|_| RecordIoError::BadLength(text.clone()))?;
            if len > MAX_RECORD_BYTES {
                return Err(RecordIoError::TooLarge(len));
            }
            self.buffer.advance(newline + 1);
            self.pending_len = Some(len);
        }
        let len = self.pending_len.unwrap_or_default();
        if self.buffer.len() < len {
            return Ok(None);
        }
        self.pending_len = None;
        Ok(Some(self.buffer.split_to(len).to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_split_at_every_byte() {
        let mut wire = encode(b"hello");
        wire.extend(encode(b""));
        wire.extend(encode(&[7u8; 300]));
        for split in 0..wire.len() {
            let mut decoder = Decoder::new();
            let mut records = Vec::new();
            for chunk in [&wire[..split], &wire[split..]] {
                decoder.feed(chunk);
                while let Some(record) = decoder.next_record().unwrap() {
                    records.push(record);
                }
            }
            assert_eq!(records, vec![b"hello".to_vec(), vec![], vec![7u8; 300]]);
        }
    }

    #[test]
    fn garbage_length_is_an_error() {
        let mut decoder = Decoder::new();
        decoder.feed(b"12x\nabc");
        assert_eq!(
            decoder.next_record(),
            Err(RecordIoError::BadLength("12x".into()))
        );
    }
}
