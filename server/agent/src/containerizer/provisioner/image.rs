//! What a registry or an archive says about an image: manifests (Docker's
//! schema 2 and OCI's), manifest lists and OCI indexes (one manifest per
//! platform; ours is picked), and the image configuration (Entrypoint,
//! Cmd, Env, WorkingDir, User, and the uncompressed digests of the layers,
//! which name them in the store).

use serde::Deserialize;

use super::digest::Digest;

/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list (one manifest per platform).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI's image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI's image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// What the registry client accepts, best first.
pub const ACCEPTED: [&str; 4] = [DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX];

/// A blob a manifest points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: Option<u64>,
}

/// A manifest: the configuration and the layers, bottom first.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// What a manifest request returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Manifest(Manifest),
    /// The manifest for this platform, from a list or an index.
    Pointer(Descriptor),
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(rename = "fsLayers")]
    fs_layers: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: Option<u64>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

impl RawDescriptor {
    fn checked(self) -> Result<Descriptor, String> {
        Ok(Descriptor {
            digest: Digest::parse(&self.digest)?,
            media_type: self.media_type,
            size: self.size,
        })
    }
}

/// The platform name of this machine's architecture, as images say it.
pub fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Parses a manifest response (`content_type` from the response, used
/// when the body does not say); a list or index yields this platform's
/// entry.
pub fn parse_document(body: &[u8], content_type: Option<&str>) -> Result<Document, String> {
    let raw: RawDocument =
        serde_json::from_slice(body).map_err(|e| format!("the manifest is not valid JSON: {e}"))?;
    let media_type = raw
        .media_type
        .clone()
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string()))
        .unwrap_or_default();
    if raw.fs_layers.is_some() || raw.schema_version == Some(1) {
        return Err("the registry serves this image with a schema 1 manifest, which is not supported (push it again with a current Docker)".into());
    }
    if let Some(entries) = raw.manifests {
        let wanted = architecture();
        let mut seen = Vec::new();
        for entry in entries {
            match &entry.platform {
                Some(p) if p.os == "linux" && p.architecture == wanted => {
                    return entry.checked().map(Document::Pointer)
                }
                Some(p) => seen.push(format!("{}/{}", p.os, p.architecture)),
                None => seen.push("unknown".to_string()),
            }
        }
        return Err(format!(
            "the image has no linux/{wanted} variant (it has: {})",
            seen.join(", ")
        ));
    }
    let (Some(config), Some(layers)) = (raw.config, raw.layers) else {
        return Err(format!(
            "the manifest ({}) has no config and layers",
            if media_type.is_empty() {
                "no media type"
            } else {
                &media_type
            }
        ));
    };
    let layers = layers
        .into_iter()
        .map(RawDescriptor::checked)
        .collect::<Result<Vec<_>, _>>()?;
    if layers.is_empty() {
        return Err("the manifest lists no layers".into());
    }
    for layer in &layers {
        if layer.media_type.contains("foreign") {
            return Err(format!(
                "the layer {} is a foreign (Windows) layer",
                layer.digest
            ));
        }
    }
    Ok(Document::Manifest(Manifest {
        config: config.checked()?,
        layers,
    }))
}

/// The parts of an image configuration a container runs with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `NAME=VALUE` entries, as the image lists them.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// The layers' uncompressed digests, bottom first.
    pub diff_ids: Vec<Digest>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    config: Option<RawRuntime>,
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawRuntime {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
}

#[derive(Deserialize)]
struct RawRootfs {
    diff_ids: Vec<String>,
}

impl ImageConfig {
    /// Parses an image configuration blob.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_slice(body)
            .map_err(|e| format!("the image configuration is not valid: {e}"))?;
        let runtime = raw.config.unwrap_or_default();
        let diff_ids = raw
            .rootfs
            .ok_or("the image configuration has no rootfs")?
            .diff_ids
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(Self {
            entrypoint: runtime.entrypoint.unwrap_or_default(),
            cmd: runtime.cmd.unwrap_or_default(),
            env: runtime.env.unwrap_or_default(),
            working_dir: nonempty(runtime.working_dir),
            user: nonempty(runtime.user),
            diff_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    #[test]
    fn manifests_lists_and_indexes_parse() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"{}"}},
            "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"{}"}}]}}"#,
            digest(1),
            digest(2)
        );
        let Document::Manifest(m) = parse_document(manifest.as_bytes(), None).unwrap() else {
            panic!("a manifest")
        };
        assert_eq!(m.config.digest.to_string(), digest(1));
        assert_eq!(m.layers[0].size, Some(9));
        let oci = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}}]}}"#,
            digest(3),
            digest(4)
        );
        assert!(matches!(
            parse_document(oci.as_bytes(), Some(OCI_MANIFEST)),
            Ok(Document::Manifest(_))
        ));
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"digest":"{}","platform":{{"os":"windows","architecture":"{}"}}}},
            {{"digest":"{}","platform":{{"os":"linux","architecture":"{}"}}}}]}}"#,
            digest(5),
            architecture(),
            digest(6),
            architecture()
        );
        let Document::Pointer(entry) = parse_document(index.as_bytes(), None).unwrap() else {
            panic!("a pointer")
        };
        assert_eq!(entry.digest.to_string(), digest(6));
        let foreign = r#"{"manifests":[{"digest":"sha256:00","platform":{"os":"linux","architecture":"mips"}}]}"#;
        assert!(parse_document(foreign.as_bytes(), None)
            .unwrap_err()
            .contains("linux/mips"));
        let schema1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(parse_document(schema1.as_bytes(), None)
            .unwrap_err()
            .contains("schema 1"));
        assert!(parse_document(b"<html>", None)
            .unwrap_err()
            .contains("not valid JSON"));
        let bad_digest = r#"{"config":{"digest":"md5:1"},"layers":[{"digest":"md5:2"}]}"#;
        assert!(parse_document(bad_digest.as_bytes(), None).is_err());
    }

    #[test]
    fn configurations_parse() {
        let text = format!(
            r#"{{"architecture":"amd64","config":{{"Entrypoint":["/bin/sh","-c"],"Cmd":null,
            "Env":["PATH=/bin","A=b=c"],"WorkingDir":"","User":"nobody"}},
            "rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            digest(7)
        );
        let config = ImageConfig::parse(text.as_bytes()).unwrap();
        assert_eq!(config.entrypoint, ["/bin/sh", "-c"]);
        assert!(config.cmd.is_empty());
        assert_eq!(config.env, ["PATH=/bin", "A=b=c"]);
        assert_eq!(config.working_dir, None);
        assert_eq!(config.user.as_deref(), Some("nobody"));
        assert_eq!(config.diff_ids.len(), 1);
        let bare = format!(r#"{{"rootfs":{{"diff_ids":["{}"]}}}}"#, digest(8));
        assert_eq!(
            ImageConfig::parse(bare.as_bytes())
                .unwrap()
                .entrypoint
                .len(),
            0
        );
        assert!(ImageConfig::parse(b"{}").unwrap_err().contains("rootfs"));
    }
}
