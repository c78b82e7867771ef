//! Docker image references, `[REGISTRY[:PORT]/]REPOSITORY[:TAG|@DIGEST]`,
//! read the way Mesos (and before it Docker) reads them, because the same
//! name must find the same image on a Mesos agent and on ours:
//!
//! * a digest follows `@`; a tag is what follows the last `:` unless that
//!   part holds a `/` (then the `:` was a registry port);
//! * the first `/`-separated part is a registry only when it holds a `.`
//!   or a `:`, or is `localhost`; otherwise it is part of the repository;
//! * without a registry the image comes from `--docker-registry`; on
//!   Docker Hub (any registry host containing `docker.io`) a repository
//!   without a `/` lives under `library/`; without a tag, `latest`;
//! * a registry is spoken to over HTTPS, except on port 80 and on
//!   `localhost` or `127.0.0.1` with a port, which are plain HTTP (a
//!   loopback registry is a development one).
//!
//! A `docker save` directory holds `<dir>/<reference as given>.tar`
//! (`busybox:latest` → `busybox:latest.tar`, `meseta-test/busybox:1` →
//! `meseta-test/busybox:1.tar`), as Mesos's local puller looks for it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference (see the module docs).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(format!("{text:?} is not an image reference"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((_, digest)) if digest.contains('@') => {
                return Err(format!("{text:?} has more than one '@'"))
            }
            Some((rest, "")) => return Err(format!("{rest:?} has an empty digest")),
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (text, None),
        };
        let (rest, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_string())),
            _ => (rest, None),
        };
        if tag.as_deref() == Some("") {
            return Err(format!("{text:?} has an empty tag"));
        }
        let (registry, repository) = match rest.split_once('/') {
            Some((first, repository))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), repository.to_string())
            }
            _ => (None, rest.to_string()),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(format!("{text:?} names no repository"));
        }
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest, else the tag, else
    /// `latest`.
    pub fn manifest_name(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The tag a `docker save` archive lists it under (`latest` by default).
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// Where a `docker save` directory keeps this image (see the module
    /// docs); a reference that would leave the directory is refused.
    pub fn archive_path(&self, dir: &Path) -> Result<PathBuf, String> {
        let name = self.to_string();
        if name.split('/').any(|part| part == ".." || part == ".") {
            return Err(format!(
                "the image name {name:?} is not a path inside {}",
                dir.display()
            ));
        }
        Ok(dir.join(format!("{name}.tar")))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")
        } else if let Some(tag) = &self.tag {
            write!(f, ":{tag}")
        } else {
            Ok(())
        }
    }
}

/// Where a registry is and how to speak to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// The repository as this registry names it (`library/` added on
    /// Docker Hub).
    pub repository: String,
}

impl Endpoint {
    /// The registry API's base: `https://host/v2/`.
    pub fn base(&self) -> String {
        format!("{}://{}/v2/", self.scheme, self.authority)
    }

    /// `.../v2/<repository>/<kind>/<name>` (kind: `manifests` or `blobs`).
    pub fn url(&self, kind: &str, name: &str) -> String {
        format!("{}{}/{kind}/{name}", self.base(), self.repository)
    }
}

/// The endpoint of `reference` when images without a registry come from
/// `default_registry` (a URL such as `https://registry-1.docker.io`).
pub fn endpoint(reference: &Reference, default_registry: &str) -> Result<Endpoint, String> {
    let (scheme, authority) = match &reference.registry {
        Some(registry) => (scheme_of(registry)?, registry.clone()),
        None => {
            let (scheme, rest) = default_registry
                .split_once("://")
                .ok_or_else(|| format!("--docker-registry {default_registry:?} is not a URL"))?;
            if scheme != "http" && scheme != "https" {
                return Err(format!(
                    "--docker-registry {default_registry:?}: only http and https registries are supported"
                ));
            }
            let authority = rest.split('/').next().unwrap_or_default();
            if authority.is_empty() {
                return Err(format!(
                    "--docker-registry {default_registry:?} names no host"
                ));
            }
            (scheme.to_string(), authority.to_string())
        }
    };
    // Docker's own names for Docker Hub are not where its registry API is.
    let authority = match authority.as_str() {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        _ => authority,
    };
    let host = host_of(&authority);
    let repository = if host.contains("docker.io") && !reference.repository.contains('/') {
        format!("library/{}", reference.repository)
    } else {
        reference.repository.clone()
    };
    Ok(Endpoint {
        scheme,
        authority,
        repository,
    })
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Mesos's rule: 443 is HTTPS, 80 is HTTP, a loopback host with a port is
/// HTTP, anything else HTTPS.
fn scheme_of(registry: &str) -> Result<String, String> {
    let port = match registry.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => Some(
            port.parse::<u16>()
                .map_err(|_| format!("the registry {registry:?} has a bad port"))?,
        ),
        _ => None,
    };
    let loopback = matches!(host_of(registry), "localhost" | "127.0.0.1" | "::1");
    Ok(match port {
        Some(80) => "http",
        Some(443) => "https",
        Some(_) if loopback => "http",
        _ => "https",
    }
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn references_parse_as_mesos_parses_them() {
        let s = |t: &str| Some(t.to_string());
        assert_eq!(parts("busybox"), (None, "busybox".into(), None, None));
        assert_eq!(
            parts("busybox:1.36"),
            (None, "busybox".into(), s("1.36"), None)
        );
        assert_eq!(
            parts("meseta-test/busybox:1"),
            (None, "meseta-test/busybox".into(), s("1"), None)
        );
        assert_eq!(
            parts("127.0.0.1:5000/a/b:2"),
            (s("127.0.0.1:5000"), "a/b".into(), s("2"), None)
        );
        assert_eq!(
            parts("localhost/a"),
            (s("localhost"), "a".into(), None, None)
        );
        assert_eq!(
            parts("registry.example.com:5000/a"),
            (s("registry.example.com:5000"), "a".into(), None, None)
        );
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            parts(&format!("a/b@{digest}")),
            (None, "a/b".into(), None, s(digest))
        );
        let r = Reference::parse(&format!("host.io/a:1@{digest}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.to_string(), format!("host.io/a@{digest}"));
        assert_eq!(r.manifest_name(), digest);
        assert_eq!(Reference::parse("a").unwrap().manifest_name(), "latest");
        for bad in ["", "a@b@c", "a:", "a b", "host.io/", "a//b", "a@"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parses");
        }
    }

    #[test]
    fn endpoints_follow_the_registry_rules() {
        let hub = "https://registry-1.docker.io";
        let e = endpoint(&Reference::parse("busybox").unwrap(), hub).unwrap();
        assert_eq!(
            e.url("manifests", "latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
        let e = endpoint(&Reference::parse("someone/tool:2").unwrap(), hub).unwrap();
        assert_eq!(e.repository, "someone/tool");
        let e = endpoint(
            &Reference::parse("docker.io/busybox").unwrap(),
            "http://x:1",
        )
        .unwrap();
        assert_eq!(e.base(), "https://registry-1.docker.io/v2/");
        assert_eq!(e.repository, "library/busybox");
        let e = endpoint(&Reference::parse("127.0.0.1:5000/a/b:1").unwrap(), hub).unwrap();
        assert_eq!(e.base(), "http://127.0.0.1:5000/v2/");
        let e = endpoint(&Reference::parse("localhost:5000/a").unwrap(), hub).unwrap();
        assert_eq!(e.scheme, "http");
        let e = endpoint(&Reference::parse("localhost/a").unwrap(), hub).unwrap();
        assert_eq!(e.scheme, "https");
        let e = endpoint(&Reference::parse("r.example.com:80/a").unwrap(), hub).unwrap();
        assert_eq!(e.scheme, "http");
        let e = endpoint(&Reference::parse("r.example.com:8443/a").unwrap(), hub).unwrap();
        assert_eq!(e.scheme, "https");
        let e = endpoint(&Reference::parse("a").unwrap(), "http://127.0.0.1:9/").unwrap();
        assert_eq!(e.url("blobs", "d"), "http://127.0.0.1:9/v2/a/blobs/d");
        assert!(endpoint(&Reference::parse("a").unwrap(), "ftp://x").is_err());
        assert!(endpoint(&Reference::parse("r.io:x/a").unwrap(), hub).is_err());
    }

    #[test]
    fn archives_are_named_after_the_reference_as_given() {
        let dir = Path::new("/images");
        let path = |t: &str| Reference::parse(t).unwrap().archive_path(dir);
        assert_eq!(path("busybox").unwrap(), Path::new("/images/busybox.tar"));
        assert_eq!(
            path("busybox:latest").unwrap(),
            Path::new("/images/busybox:latest.tar")
        );
        assert_eq!(
            path("meseta-test/busybox:1").unwrap(),
            Path::new("/images/meseta-test/busybox:1.tar")
        );
        assert!(path("../etc/x").is_err());
    }
}
