//! Content digests (`sha256:<64 hex>`), the names everything in the store
//! goes by, and a writer that computes one while the bytes pass through,
//! so a blob is verified as it is downloaded or unpacked rather than read
//! twice.

use std::fmt;
use std::io::{self, Write};

use sha2::{Digest as _, Sha256};

/// A verified-form content digest: `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`; other algorithms are refused by name (the
    /// store only verifies SHA-256, as registries use it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!("{text:?} is not a digest (ALGORITHM:HEX)"));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "the digest {text:?} uses {algorithm:?}; only sha256 is supported"
            ));
        }
        let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(format!("{text:?} is not a sha256 digest (64 hex digits)"));
        }
        Ok(Self(format!("sha256:{}", hex.to_ascii_lowercase())))
    }

    /// The hex part, used as a file name.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Hasher::default();
        hasher.update(bytes);
        hasher.finish()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Computes a SHA-256 digest of what is written to it (and counts bytes).
#[derive(Default)]
pub struct Hasher {
    state: Sha256,
    bytes: u64,
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    /// How many bytes went in.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// The digest of everything written.
    pub fn finish(self) -> Digest {
        let sum = self.state.finalize();
        let mut hex = String::with_capacity(64);
        for byte in sum {
            hex.push_str(&format!("{byte:02x}"));
        }
        Digest(format!("sha256:{hex}"))
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes what is read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::default(),
        }
    }

    /// The digest of what was read, and how many bytes.
    pub fn finish(self) -> (Digest, u64) {
        let bytes = self.hasher.len();
        (self.hasher.finish(), bytes)
    }
}

impl<R: io::Read> io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_and_compute() {
        let empty = Digest::of(b"");
        assert_eq!(
            empty.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest::parse(&empty.to_string().to_uppercase().replace("SHA256", "sha256")).unwrap(),
            empty
        );
        assert_eq!(empty.hex().len(), 64);
        assert!(Digest::parse("sha512:abcd")
            .unwrap_err()
            .contains("only sha256"));
        assert!(Digest::parse("sha256:xyz").is_err());
        assert!(Digest::parse("nodigest").is_err());
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut sink = Vec::new();
        io::copy(&mut reader, &mut sink).unwrap();
        let (digest, bytes) = reader.finish();
        assert_eq!(bytes, 3);
        assert_eq!(digest, Digest::of(b"abc"));
    }
}
