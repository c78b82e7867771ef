//! Pulling from a directory of `docker save` archives (`--docker-registry`
//! is a path): the image `NAME` is the archive `<dir>/NAME.tar`, as
//! Mesos's local puller finds it (see [`super::reference`]).
//!
//! The archive is unpacked into a staging directory; its `manifest.json`
//! (written by every `docker save` since Docker 1.10, in the classic
//! layout and in the OCI layout of newer Dockers alike) names the image
//! configuration and the layer files of each image in it. The entry whose
//! `RepoTags` hold the reference is used (or the only one). The
//! configuration's file name is its digest when it has one, and each
//! layer is checked against the configuration's diff_ids as it is
//! unpacked, so a damaged archive fails and leaves nothing in the store.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::digest::Digest;
use super::image::ImageConfig;
use super::reference::Reference;
use super::store::Store;
use super::Pulled;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Pulls `reference` from the archive at `path` into the store. Blocking.
pub fn pull(path: &Path, reference: &Reference, store: &Arc<Store>) -> Result<Pulled, String> {
    if !path.is_file() {
        return Err(format!("not found: there is no archive {}", path.display()));
    }
    let staging = store.staging()?;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut outer = tar::Archive::new(std::io::BufReader::new(file));
    outer
        .unpack(staging.path())
        .map_err(|e| format!("the archive {} is corrupt: {e}", path.display()))?;
    let manifest = std::fs::read(staging.path().join("manifest.json")).map_err(|_| {
        format!(
            "the archive {} has no manifest.json (saved by a Docker older than 1.10?)",
            path.display()
        )
    })?;
    let entries: Vec<Entry> = serde_json::from_slice(&manifest)
        .map_err(|e| format!("the archive's manifest.json is not valid: {e}"))?;
    let entry = choose(entries, reference)?;
    let config_path = within(staging.path(), &entry.config)?;
    let config_bytes = std::fs::read(&config_path).map_err(|e| {
        format!(
            "the archive lacks its image configuration {}: {e}",
            entry.config
        )
    })?;
    let config_digest = Digest::of(&config_bytes);
    if let Some(named) = digest_in_name(&entry.config) {
        if named != config_digest {
            return Err(format!(
                "digest mismatch: the image configuration {named} has digest {config_digest}"
            ));
        }
    }
    let config = ImageConfig::parse(&config_bytes)?;
    if config.diff_ids.len() != entry.layers.len() {
        return Err(format!(
            "the image configuration lists {} layers, the archive {}",
            config.diff_ids.len(),
            entry.layers.len()
        ));
    }
    store.put_config(&config_bytes, &config_digest)?;
    let total = entry.layers.len();
    for (index, (layer, diff_id)) in entry.layers.iter().zip(&config.diff_ids).enumerate() {
        if store.has_layer(diff_id) {
            tracing::info!(archive = %path.display(), layer = index + 1, layers = total, %diff_id, "layer already in the store");
            continue;
        }
        let file = within(staging.path(), layer)?;
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        tracing::info!(archive = %path.display(), layer = index + 1, layers = total, %diff_id, bytes, "unpacking layer");
        store
            .install_layer(&file, diff_id)
            .map_err(|e| format!("corrupt layer {layer} ({diff_id}): {e}"))?;
    }
    Ok(Pulled {
        config_digest,
        config,
    })
}

/// The entry for `reference`: the one tagged so, or the only one.
fn choose(entries: Vec<Entry>, reference: &Reference) -> Result<Entry, String> {
    let tag = reference.tag_or_latest();
    let mut wanted = vec![format!("{}:{tag}", reference.repository)];
    if let Some(registry) = &reference.registry {
        wanted.push(format!("{registry}/{}:{tag}", reference.repository));
    }
    let count = entries.len();
    let mut listed = Vec::new();
    let mut only = None;
    for entry in entries {
        let tags = entry.repo_tags.clone().unwrap_or_default();
        if tags.iter().any(|t| wanted.contains(t)) {
            return Ok(entry);
        }
        listed.extend(tags);
        only = Some(entry);
    }
    match only {
        Some(entry) if count == 1 => Ok(entry),
        _ => Err(format!(
            "not found: the archive holds no image tagged {} (it has: {})",
            wanted[0],
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        )),
    }
}

/// `relative` inside `dir`, refusing anything that leaves it.
fn within(dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "the archive names a file outside itself: {relative:?}"
        ));
    }
    Ok(dir.join(path))
}

/// The digest a file name carries: `<hex>.json` or `blobs/sha256/<hex>`.
fn digest_in_name(name: &str) -> Option<Digest> {
    let last = name.rsplit('/').next()?;
    let hex = last.strip_suffix(".json").unwrap_or(last);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tags: &[&str]) -> Entry {
        Entry {
            config: "c.json".into(),
            repo_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            layers: vec![],
        }
    }

    #[test]
    fn the_tagged_entry_is_chosen() {
        let reference = Reference::parse("a/b:1").unwrap();
        let chosen = choose(vec![entry(&["x:1"]), entry(&["a/b:1"])], &reference).unwrap();
        assert_eq!(chosen.repo_tags.unwrap(), ["a/b:1"]);
        assert!(choose(vec![entry(&["other:2"])], &reference).is_ok());
        let error = choose(vec![entry(&["x:1"]), entry(&["y:1"])], &reference)
            .err()
            .unwrap();
        assert!(
            error.contains("no image tagged a/b:1") && error.contains("x:1, y:1"),
            "{error}"
        );
        let latest = Reference::parse("busybox").unwrap();
        assert!(choose(vec![entry(&["busybox:latest"]), entry(&["b:1"])], &latest).is_ok());
    }

    #[test]
    fn names_stay_inside_and_carry_digests() {
        let dir = Path::new("/s");
        assert_eq!(
            within(dir, "abc/layer.tar").unwrap(),
            Path::new("/s/abc/layer.tar")
        );
        assert!(within(dir, "../x").is_err());
        assert!(within(dir, "/etc/passwd").is_err());
        let hex = "ab".repeat(32);
        assert_eq!(digest_in_name(&format!("{hex}.json")).unwrap().hex(), hex);
        assert_eq!(
            digest_in_name(&format!("blobs/sha256/{hex}"))
                .unwrap()
                .hex(),
            hex
        );
        assert!(digest_in_name("config.json").is_none());
    }
}
