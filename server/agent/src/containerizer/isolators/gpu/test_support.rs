//! Test helpers: the fake NVML library (`tests/fake_nvml/fake_nvml.c`)
//! compiled at test time, and an in-memory [`Nvml`].
//!
//! The fake is built with the system C compiler; where there is none the
//! tests that need it say so loudly and pass without running.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::nvml::{Gpu, Nvml, NvmlError};

/// A compiled fake NVML library; its directory goes when this is dropped.
pub(crate) struct FakeNvml {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeNvml {
    /// Compiles the fake with extra compiler `flags` (`-DFAKE_NVML_...`);
    /// `None` (after an `eprintln!`) when there is no C compiler.
    pub fn build(flags: &[&str]) -> Option<Self> {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_nvml/fake_nvml.c");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("libnvidia-ml.so.1");
        let compiled = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&path)
            .args(flags)
            .arg(&source)
            .output();
        match compiled {
            Ok(out) if out.status.success() => Some(Self { path, _dir: dir }),
            Ok(out) => panic!(
                "cc could not compile {}: {}",
                source.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(error) => {
                eprintln!("SKIPPED: no C compiler (`cc`: {error}) to build the fake NVML library");
                None
            }
        }
    }
}

/// An NVML that reports fixed GPUs, or fails.
#[derive(Debug)]
pub(crate) struct ListedNvml(pub Result<Vec<Gpu>, NvmlError>);

impl ListedNvml {
    /// `count` GPUs, minor = index + 10.
    pub fn with(count: u32) -> Self {
        Self(Ok((0..count)
            .map(|index| Gpu {
                index,
                minor: index + 10,
            })
            .collect()))
    }
}

impl Nvml for ListedNvml {
    fn gpus(&self) -> Result<Vec<Gpu>, NvmlError> {
        self.0.clone()
    }
}

/// The error of an NVML that cannot be loaded.
pub(crate) fn load_error() -> NvmlError {
    NvmlError::Load {
        library: "libnvidia-ml.so.1".into(),
        reason: "libnvidia-ml.so.1: cannot open shared object file".into(),
    }
}
