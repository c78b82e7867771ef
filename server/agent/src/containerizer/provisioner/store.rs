//! The image store under `--docker-store-dir`, shared by all containers
//! (and safe to share between agents):
//!
//! ```text
//! layers/<hex>/        a layer unpacked (overlay form), named by its
//!                      uncompressed digest (the image's diff_id)
//! configs/<hex>        an image configuration, named by its digest
//! images/<hex>.json    what a reference resolved to (configuration and
//!                      layers), named by the digest of the source and
//!                      reference, so a cached image needs no request
//! staging/             a pull's downloads, gone when the pull ends
//! ```
//!
//! Nothing half-made is ever under its final name: layers are unpacked
//! into `layers/.tmp-<pid>-<n>` and renamed when complete (a failed or
//! interrupted unpack leaves only a temporary, removed on failure and at
//! the next start); files are written to a temporary and renamed.
//! Everything is verified before it gets its name: a configuration's
//! bytes against its digest, a layer's uncompressed stream against its
//! diff_id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::unpack::unpack_layer;

/// What a reference resolved to, as recorded in `images/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The source and reference (`<registry or dir> <reference>`).
    pub key: String,
    pub config: String,
    /// The layers' diff_ids, bottom first.
    pub layers: Vec<String>,
}

/// The store (see the module docs).
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    temporaries: AtomicU64,
}

impl Store {
    /// Opens (creating) the store, removing what earlier pulls of dead
    /// processes left half-made.
    pub fn open(dir: &Path) -> Result<Self, String> {
        for sub in ["layers", "configs", "images", "staging"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path)
                .map_err(|e| format!("cannot create the image store {}: {e}", path.display()))?;
        }
        let store = Self {
            dir: dir.to_path_buf(),
            temporaries: AtomicU64::new(0),
        };
        for sub in ["layers", "configs", "images", "staging"] {
            store.remove_stale(&dir.join(sub));
        }
        Ok(store)
    }

    fn remove_stale(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(".tmp-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            tracing::info!(path = %entry.path().display(), "removing what an interrupted pull left");
            let _ = std::fs::remove_dir_all(entry.path())
                .or_else(|_| std::fs::remove_file(entry.path()));
        }
    }

    /// A fresh temporary name in `dir` (this process's, see `open`).
    fn temporary(&self, dir: &Path) -> PathBuf {
        let n = self.temporaries.fetch_add(1, Ordering::Relaxed);
        let nonce: u32 = rand::random();
        dir.join(format!(".tmp-{}-{n}-{nonce:08x}", std::process::id()))
    }

    /// A directory for one pull's downloads, removed when dropped.
    pub fn staging(&self) -> Result<Staging, String> {
        let dir = self.temporary(&self.dir.join("staging"));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot create a staging directory {}: {e}", dir.display()))?;
        Ok(Staging { dir })
    }

    /// Where the layer with this diff_id is (or would be) unpacked.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join("layers").join(diff_id.hex())
    }

    /// True when the layer is in the store, complete.
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).is_dir()
    }

    /// Unpacks a downloaded layer under its diff_id (see the module docs);
    /// a layer another pull put there meanwhile is kept. Blocking.
    pub fn install_layer(&self, blob: &Path, diff_id: &Digest) -> Result<(), String> {
        let target = self.layer_dir(diff_id);
        if target.is_dir() {
            return Ok(());
        }
        let temporary = self.temporary(&self.dir.join("layers"));
        std::fs::create_dir(&temporary)
            .map_err(|e| format!("cannot create {}: {e}", temporary.display()))?;
        if let Err(e) = unpack_layer(blob, &temporary, Some(diff_id)) {
            let _ = std::fs::remove_dir_all(&temporary);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&temporary, &target) {
            let _ = std::fs::remove_dir_all(&temporary);
            if !target.is_dir() {
                return Err(format!(
                    "cannot move the layer to {}: {e}",
                    target.display()
                ));
            }
        }
        Ok(())
    }

    /// Stores an image configuration after checking it has `digest`.
    pub fn put_config(&self, bytes: &[u8], digest: &Digest) -> Result<(), String> {
        let actual = Digest::of(bytes);
        if actual != *digest {
            return Err(format!(
                "digest mismatch: the image configuration {digest} has digest {actual}"
            ));
        }
        self.write_file(&self.dir.join("configs").join(digest.hex()), bytes)
    }

    /// A stored image configuration.
    pub fn config(&self, digest: &Digest) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join("configs").join(digest.hex())).ok()
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir
            .join("images")
            .join(format!("{}.json", Digest::of(key.as_bytes()).hex()))
    }

    /// What `key` resolved to, when recorded.
    pub fn record(&self, key: &str) -> Option<Record> {
        let bytes = std::fs::read(self.record_path(key)).ok()?;
        serde_json::from_slice::<Record>(&bytes)
            .ok()
            .filter(|r| r.key == key)
    }

    /// Records what `record.key` resolved to.
    pub fn put_record(&self, record: &Record) -> Result<(), String> {
        let bytes = serde_json::to_vec(record).map_err(|e| e.to_string())?;
        self.write_file(&self.record_path(&record.key), &bytes)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        let dir = path.parent().unwrap_or(&self.dir);
        let temporary = self.temporary(dir);
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&temporary);
                format!("cannot write {}: {e}", path.display())
            })
    }
}

/// A pull's staging directory; removed with what is in it when dropped.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_and_layers_are_verified_before_they_get_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = br#"{"rootfs":{"diff_ids":[]}}"#;
        let digest = Digest::of(config);
        store.put_config(config, &digest).unwrap();
        assert_eq!(store.config(&digest).unwrap(), config);
        let wrong = Digest::of(b"other");
        let error = store.put_config(config, &wrong).unwrap_err();
        assert!(
            error.contains("digest mismatch") && error.contains(&wrong.to_string()),
            "{error}"
        );
        assert!(store.config(&wrong).is_none());

        let layer = dir.path().join("blob");
        std::fs::write(
            &layer,
            b"this is no tar archive at all, not even close........",
        )
        .unwrap();
        let diff_id = Digest::of(b"whatever");
        assert!(store.install_layer(&layer, &diff_id).is_err());
        assert!(!store.has_layer(&diff_id));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        let record = Record {
            key: "src ref".into(),
            config: digest.to_string(),
            layers: vec![],
        };
        store.put_record(&record).unwrap();
        assert_eq!(store.record("src ref"), Some(record));
        assert_eq!(store.record("other"), None);
        let staging = store.staging().unwrap();
        let path = staging.path().to_path_buf();
        assert!(path.is_dir());
        drop(staging);
        assert!(!path.exists());
    }

    #[test]
    fn what_dead_pulls_left_is_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join("layers/.tmp-999999999-0-0");
        std::fs::create_dir_all(stale.join("half")).unwrap();
        let complete = dir.path().join("layers").join("ab".repeat(32));
        std::fs::create_dir_all(&complete).unwrap();
        Store::open(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(complete.exists());
    }
}
