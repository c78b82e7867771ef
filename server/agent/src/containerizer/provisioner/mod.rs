//! The provisioner: container images without an engine
//! (`ContainerInfo.type=MESOS` with `mesos.image` of type DOCKER), as
//! Mesos's provisioner does it.
//!
//! * **Where images come from** (`--docker-registry`): a registry speaking
//!   the Docker Registry HTTP API v2 ([`registry`]; images naming a
//!   registry of their own go there), or a directory of `docker save`
//!   archives ([`archive`]).
//! * **The store** (`--docker-store-dir`, [`store`]): configurations and
//!   unpacked layers by digest, shared by every container; what a
//!   reference resolved to is recorded, so an image already pulled is not
//!   pulled again (unless `Image.cached` is false: then its manifest is
//!   fetched anew, and only layers the store lacks are downloaded).
//! * **One pull per image at a time**: launches that need an image being
//!   pulled wait for that pull. Progress (layers and bytes) is logged.
//! * **The root filesystem** ([`rootfs`]): overlay where the kernel allows
//!   it, a copy otherwise (`--image-provisioner-backend`), under
//!   `<work_dir>/provisioner/containers/<container>`, removed when the
//!   container ends (and at the next start for those that did not come
//!   back).
//!
//! Failures say which image and why: not found, a digest mismatch, a
//! corrupt layer, a registry that cannot be reached.

mod archive;
pub mod digest;
mod http;
pub mod image;
pub mod reference;
mod registry;
pub mod rootfs;
mod store;
mod unpack;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use meseta_proto::v1;

use self::digest::Digest;
use self::image::ImageConfig;
use self::reference::Reference;
use self::rootfs::Backend;
use self::store::{Record, Store};

/// What a puller brings into the store.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub config_digest: Digest,
    pub config: ImageConfig,
}

/// A container's root filesystem, made from its image.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The image's name, as the framework gave it.
    pub image: String,
    /// The root filesystem, as the agent sees it.
    pub rootfs: PathBuf,
    pub config: ImageConfig,
}

/// Where images come from.
#[derive(Debug, Clone)]
enum Source {
    Registry(String),
    Archives(PathBuf),
}

type Pull = Shared<BoxFuture<'static, Result<Arc<Vec<PathBuf>>, String>>>;

/// The provisioner (see the module docs).
#[derive(Debug)]
pub struct Provisioner {
    source: Source,
    store: Arc<Store>,
    containers: PathBuf,
    backend: Backend,
    http: http::Http,
    pulls: Arc<Mutex<HashMap<String, Pull>>>,
    /// Pulls done, and how long the last one took (ms).
    pulled: Arc<Mutex<(u64, f64)>>,
}

/// How the provisioner is configured.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--docker-registry`: a URL or an absolute directory.
    pub registry: String,
    /// `--docker-store-dir`.
    pub store_dir: PathBuf,
    /// Where containers' root filesystems go.
    pub containers_dir: PathBuf,
    /// `--image-provisioner-backend`; `None`: overlay where it works.
    pub backend: Option<String>,
}

impl Provisioner {
    /// Opens the store and picks the backend; an error is a bad flag or an
    /// unusable directory.
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let registry = settings.registry.trim();
        let source = if registry.starts_with('/') {
            Source::Archives(PathBuf::from(registry))
        } else if registry.starts_with("http://") || registry.starts_with("https://") {
            Source::Registry(registry.trim_end_matches('/').to_string())
        } else {
            return Err(format!(
                "--docker-registry {registry:?} is neither an http(s) URL nor an absolute directory"
            ));
        };
        let store = Store::open(&settings.store_dir)?;
        std::fs::create_dir_all(&settings.containers_dir)
            .map_err(|e| format!("cannot create {}: {e}", settings.containers_dir.display()))?;
        let probe =
            || rootfs::probe_overlay(&settings.store_dir.join("layers"), &settings.containers_dir);
        let backend = match settings
            .backend
            .as_deref()
            .map(Backend::parse)
            .transpose()?
        {
            Some(Backend::Overlay) => {
                probe().map_err(|e| format!("--image-provisioner-backend=overlay: {e}"))?;
                Backend::Overlay
            }
            Some(Backend::Copy) => Backend::Copy,
            None => match probe() {
                Ok(()) => Backend::Overlay,
                Err(error) => {
                    tracing::warn!(%error, "overlay mounts do not work here; container root filesystems are copied from their images");
                    Backend::Copy
                }
            },
        };
        tracing::info!(source = ?source, store = %settings.store_dir.display(), backend = backend.name(), "container images are provisioned");
        Ok(Self {
            source,
            store: Arc::new(store),
            containers: settings.containers_dir.clone(),
            backend,
            http: http::Http::new(),
            pulls: Arc::default(),
            pulled: Arc::default(),
        })
    }

    fn container_dir(&self, key: &str) -> Result<PathBuf, String> {
        if key.is_empty() || key.contains('/') || key.starts_with('.') {
            return Err(format!("the container ID {key:?} cannot name a directory"));
        }
        Ok(self.containers.join(key))
    }

    /// Makes the root filesystem of container `key` from `image`, pulling
    /// the image when the store does not have it.
    pub async fn provision(&self, key: &str, image: &v1::Image) -> Result<Provisioned, String> {
        let name = match (v1::image::Type::try_from(image.r#type), &image.docker) {
            (Ok(v1::image::Type::Docker), Some(docker)) => docker.name.clone(),
            (Ok(v1::image::Type::Docker), None) => {
                return Err("an image of type DOCKER needs Image.docker.name".into())
            }
            _ => return Err("only Docker images are supported (Image.type=DOCKER)".into()),
        };
        let fail = |cause: String| format!("cannot provision the image '{name}': {cause}");
        let reference = Reference::parse(&name).map_err(fail)?;
        let key_in_store = match &self.source {
            Source::Registry(default) => {
                let endpoint = reference::endpoint(&reference, default).map_err(fail)?;
                endpoint.url("manifests", reference.manifest_name())
            }
            Source::Archives(dir) => reference
                .archive_path(dir)
                .map_err(fail)?
                .display()
                .to_string(),
        };
        let layers = match self.cached(&key_in_store, image.cached()) {
            Some(layers) => {
                tracing::info!(image = %name, "using the cached image");
                Arc::new(layers)
            }
            None => self
                .pull(&key_in_store, &name, reference)
                .await
                .map_err(fail)?,
        };
        let record = self
            .store
            .record(&key_in_store)
            .ok_or_else(|| fail("the store lost the image's record".into()))?;
        let config = Digest::parse(&record.config)
            .ok()
            .and_then(|d| self.store.config(&d))
            .ok_or_else(|| fail("the store lost the image's configuration".into()))
            .and_then(|bytes| ImageConfig::parse(&bytes).map_err(fail))?;
        let dir = self.container_dir(key).map_err(fail)?;
        let backend = self.backend;
        let made = tokio::task::spawn_blocking(move || {
            let made = rootfs::create(backend, &dir, &layers);
            if made.is_err() {
                let _ = rootfs::destroy(&dir);
            }
            made
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)?;
        Ok(Provisioned {
            image: name,
            rootfs: made,
            config,
        })
    }

    /// The layers of a recorded image whose every part is in the store.
    fn cached(&self, key: &str, use_cache: bool) -> Option<Vec<PathBuf>> {
        if !use_cache {
            return None;
        }
        let record = self.store.record(key)?;
        let config = Digest::parse(&record.config).ok()?;
        self.store.config(&config)?;
        record
            .layers
            .iter()
            .map(|d| {
                let digest = Digest::parse(d).ok()?;
                self.store
                    .has_layer(&digest)
                    .then(|| self.store.layer_dir(&digest))
            })
            .collect()
    }

    /// Pulls `key`, or waits for the pull of it already under way.
    async fn pull(
        &self,
        key: &str,
        name: &str,
        reference: Reference,
    ) -> Result<Arc<Vec<PathBuf>>, String> {
        let pull = {
            let mut pulls = self.pulls.lock().unwrap_or_else(|p| p.into_inner());
            match pulls.get(key) {
                Some(pull) => {
                    tracing::info!(image = %name, "waiting for the pull under way");
                    pull.clone()
                }
                None => {
                    let pull = self.start_pull(key.to_string(), name.to_string(), reference);
                    pulls.insert(key.to_string(), pull.clone());
                    pull
                }
            }
        };
        pull.await
    }

    fn start_pull(&self, key: String, name: String, reference: Reference) -> Pull {
        let (source, store, http) = (
            self.source.clone(),
            Arc::clone(&self.store),
            self.http.clone(),
        );
        let (pulls, pulled) = (Arc::clone(&self.pulls), Arc::clone(&self.pulled));
        let task = tokio::spawn(async move {
            let started = Instant::now();
            tracing::info!(image = %name, from = ?source, "pulling image");
            let result = match &source {
                Source::Registry(default) => match reference::endpoint(&reference, default) {
                    Ok(endpoint) => {
                        registry::RegistryPull::new(&http, endpoint, &reference, &store, &name)
                            .run()
                            .await
                    }
                    Err(e) => Err(e),
                },
                Source::Archives(dir) => {
                    let (dir, reference, store) =
                        (dir.clone(), reference.clone(), Arc::clone(&store));
                    tokio::task::spawn_blocking(move || {
                        reference
                            .archive_path(&dir)
                            .and_then(|path| archive::pull(&path, &reference, &store))
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
                }
            };
            let result = result.and_then(|pulled| record(&store, &key, &pulled));
            match &result {
                Ok(layers) => {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    tracing::info!(image = %name, layers = layers.len(), ms, "image pulled");
                    let mut done = pulled.lock().unwrap_or_else(|p| p.into_inner());
                    *done = (done.0 + 1, ms);
                }
                Err(error) => tracing::warn!(image = %name, %error, "cannot pull image"),
            }
            pulls.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            result.map(Arc::new)
        });
        async move {
            task.await
                .unwrap_or_else(|e| Err(format!("the pull task failed: {e}")))
        }
        .boxed()
        .shared()
    }

    /// Removes the root filesystem of container `key` (it has ended).
    pub async fn destroy(&self, key: &str) {
        let Ok(dir) = self.container_dir(key) else {
            return;
        };
        if !dir.exists() {
            return;
        }
        let removed = tokio::task::spawn_blocking(move || rootfs::destroy(&dir)).await;
        match removed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(container = %key, %error, "cannot remove the container's root filesystem")
            }
            Err(error) => tracing::warn!(container = %key, %error, "the cleanup task failed"),
        }
    }

    /// After a restart: removes the root filesystems of containers not in
    /// `keep` (they did not come back).
    pub async fn recover(&self, keep: &HashSet<String>) {
        let Ok(entries) = std::fs::read_dir(&self.containers) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name) {
                continue;
            }
            tracing::info!(container = %name, "removing the root filesystem of a container that did not come back");
            let dir = entry.path();
            let _ = tokio::task::spawn_blocking(move || rootfs::destroy(&dir)).await;
        }
    }

    /// Mesos's counters: pulls done (`image_pull_ms/count`) and the last
    /// one's duration (`image_pull_ms`).
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let (count, last) = *self.pulled.lock().unwrap_or_else(|p| p.into_inner());
        let base = "containerizer/mesos/provisioner/docker_store/image_pull_ms";
        let mut out = vec![(format!("{base}/count"), count as f64)];
        if count > 0 {
            out.push((base.to_string(), last));
        }
        out
    }
}

/// Records what `key` resolved to; the layers' directories.
fn record(store: &Store, key: &str, pulled: &Pulled) -> Result<Vec<PathBuf>, String> {
    store.put_record(&Record {
        key: key.to_string(),
        config: pulled.config_digest.to_string(),
        layers: pulled
            .config
            .diff_ids
            .iter()
            .map(Digest::to_string)
            .collect(),
    })?;
    Ok(pulled
        .config
        .diff_ids
        .iter()
        .map(|d| store.layer_dir(d))
        .collect())
}

#[cfg(test)]
mod tests;
