//! Pulling from a registry that speaks the Docker Registry HTTP API v2,
//! anonymously: the manifest (Docker schema 2 or OCI; a manifest list or
//! OCI index is resolved to this machine's platform), then the image
//! configuration and each layer the store does not have yet, every blob
//! checked against its digest before it is used.
//!
//! A registry that answers 401 with a `Bearer` challenge (Docker Hub does,
//! even for public images) is asked for an anonymous token at the realm
//! it names (with its `service` and `scope`), and the request is repeated
//! with it. A `Basic` challenge needs credentials, which the agent does
//! not have: that is an error saying so.

use std::path::Path;
use std::sync::Arc;

use super::digest::{Digest, Hasher};
use super::http::{Http, Response};
use super::image::{parse_document, Document, ImageConfig, Manifest, ACCEPTED};
use super::reference::{Endpoint, Reference};
use super::store::Store;
use super::Pulled;

/// One pull from a registry.
pub struct RegistryPull<'a> {
    pub http: &'a Http,
    pub endpoint: Endpoint,
    pub reference: &'a Reference,
    pub store: &'a Arc<Store>,
    /// The image's name, for messages and logs.
    pub image: &'a str,
    token: Option<String>,
}

impl<'a> RegistryPull<'a> {
    pub fn new(
        http: &'a Http,
        endpoint: Endpoint,
        reference: &'a Reference,
        store: &'a Arc<Store>,
        image: &'a str,
    ) -> Self {
        Self {
            http,
            endpoint,
            reference,
            store,
            image,
            token: None,
        }
    }

    /// Pulls the image into the store.
    pub async fn run(mut self) -> Result<Pulled, String> {
        let manifest = self.manifest().await?;
        let config = self.config(&manifest).await?;
        if config.diff_ids.len() != manifest.layers.len() {
            return Err(format!(
                "the image configuration lists {} layers, the manifest {}",
                config.diff_ids.len(),
                manifest.layers.len()
            ));
        }
        let staging = self.store.staging()?;
        let total = manifest.layers.len();
        for (index, (layer, diff_id)) in manifest.layers.iter().zip(&config.diff_ids).enumerate() {
            if self.store.has_layer(diff_id) {
                tracing::info!(image = %self.image, layer = index + 1, layers = total, digest = %layer.digest, "layer already in the store");
                continue;
            }
            let blob = staging.path().join(layer.digest.hex());
            self.blob(&layer.digest, layer.size, &blob, index + 1, total)
                .await?;
            let (store, from, diff) = (Arc::clone(self.store), blob.clone(), diff_id.clone());
            tokio::task::spawn_blocking(move || store.install_layer(&from, &diff))
                .await
                .map_err(|e| format!("the unpacking task failed: {e}"))?
                .map_err(|e| format!("corrupt layer {}: {e}", layer.digest))?;
            let _ = std::fs::remove_file(&blob);
            tracing::info!(image = %self.image, layer = index + 1, layers = total, digest = %layer.digest, "layer unpacked");
        }
        Ok(Pulled {
            config_digest: manifest.config.digest.clone(),
            config,
        })
    }

    /// The manifest for this platform.
    async fn manifest(&mut self) -> Result<Manifest, String> {
        let wanted = self.reference.manifest_name().to_string();
        let url = self.endpoint.url("manifests", &wanted);
        let (response, body) = self.get(&url, &[("Accept", ACCEPTED.join(", "))]).await?;
        if response.status == 404 {
            return Err(format!(
                "not found: the registry {} has no image {}:{wanted} ({})",
                self.endpoint.authority,
                self.endpoint.repository,
                excerpt(&body)
            ));
        }
        check(&response, &url, &body)?;
        if let Some(digest) = &self.reference.digest {
            verify_bytes(&body, &Digest::parse(digest)?, "manifest")?;
        }
        match parse_document(&body, response.header("content-type"))? {
            Document::Manifest(manifest) => Ok(manifest),
            Document::Pointer(entry) => {
                let url = self.endpoint.url("manifests", &entry.digest.to_string());
                let (response, body) = self.get(&url, &[("Accept", ACCEPTED.join(", "))]).await?;
                check(&response, &url, &body)?;
                verify_bytes(&body, &entry.digest, "manifest")?;
                match parse_document(&body, response.header("content-type"))? {
                    Document::Manifest(manifest) => Ok(manifest),
                    Document::Pointer(_) => Err("a manifest list points at another list".into()),
                }
            }
        }
    }

    /// The image configuration (from the store when it has it).
    async fn config(&mut self, manifest: &Manifest) -> Result<ImageConfig, String> {
        let digest = &manifest.config.digest;
        let bytes = match self.store.config(digest) {
            Some(bytes) => bytes,
            None => {
                let url = self.endpoint.url("blobs", &digest.to_string());
                let (response, body) = self.get(&url, &[]).await?;
                check(&response, &url, &body)?;
                self.store.put_config(&body, digest)?;
                body
            }
        };
        ImageConfig::parse(&bytes)
    }

    /// Downloads a blob into `path` and checks its digest and size.
    async fn blob(
        &mut self,
        digest: &Digest,
        size: Option<u64>,
        path: &Path,
        index: usize,
        total: usize,
    ) -> Result<(), String> {
        let url = self.endpoint.url("blobs", &digest.to_string());
        let image = self.image.to_string();
        let shown = digest.to_string();
        let progress = move |bytes: u64| {
            tracing::info!(%image, layer = index, layers = total, digest = %shown, bytes, size, "pulling layer");
        };
        let mut response = self
            .http
            .download(&url, &self.auth(), path, &progress)
            .await?;
        if response.status == 401 && self.authenticate(&response, &url).await? {
            response = self
                .http
                .download(&url, &self.auth(), path, &progress)
                .await?;
        }
        if !response.ok() {
            return Err(format!("{url}: the registry answered {}", response.status));
        }
        let file = path.to_path_buf();
        let (actual, bytes) = tokio::task::spawn_blocking(move || hash_file(&file))
            .await
            .map_err(|e| format!("the hashing task failed: {e}"))??;
        if actual != *digest {
            return Err(format!(
                "digest mismatch: the layer {digest} downloaded from {} has digest {actual}",
                self.endpoint.authority
            ));
        }
        if size.is_some_and(|size| size != bytes) {
            return Err(format!(
                "the layer {digest} has {bytes} bytes, the manifest says {size:?}"
            ));
        }
        Ok(())
    }

    fn auth(&self) -> Vec<(String, String)> {
        self.token
            .iter()
            .map(|t| ("Authorization".to_string(), format!("Bearer {t}")))
            .collect()
    }

    /// GET with the token, authenticating once when challenged.
    async fn get(
        &mut self,
        url: &str,
        extra: &[(&str, String)],
    ) -> Result<(Response, Vec<u8>), String> {
        let headers = |auth: Vec<(String, String)>| {
            let mut all = auth;
            all.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
            all
        };
        let (response, body) = self.http.get(url, &headers(self.auth())).await?;
        if response.status == 401 && self.authenticate(&response, url).await? {
            return self.http.get(url, &headers(self.auth())).await;
        }
        Ok((response, body))
    }

    /// Gets an anonymous token for a `Bearer` challenge; false when there
    /// was no challenge to answer.
    async fn authenticate(&mut self, response: &Response, url: &str) -> Result<bool, String> {
        let Some(challenge) = response.header("www-authenticate") else {
            return Ok(false);
        };
        let (scheme, params) = parse_challenge(challenge);
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "{url}: the registry wants {scheme} credentials; only anonymous pulls are supported"
            ));
        }
        let realm = param(&params, "realm")
            .ok_or_else(|| format!("{url}: a Bearer challenge without a realm"))?;
        let scope = param(&params, "scope")
            .map(str::to_string)
            .unwrap_or_else(|| format!("repository:{}:pull", self.endpoint.repository));
        let mut token_url = format!(
            "{realm}{}scope={}",
            if realm.contains('?') { '&' } else { '?' },
            encode(&scope)
        );
        if let Some(service) = param(&params, "service") {
            token_url.push_str(&format!("&service={}", encode(service)));
        }
        let (answer, body) = self.http.get(&token_url, &[]).await?;
        if !answer.ok() {
            return Err(format!(
                "the registry's token service {realm} refused an anonymous token ({}): {}",
                answer.status,
                excerpt(&body)
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("the token service {realm} answered with bad JSON: {e}"))?;
        let token = value["token"]
            .as_str()
            .or_else(|| value["access_token"].as_str())
            .ok_or_else(|| format!("the token service {realm} gave no token"))?;
        if self.token.as_deref() == Some(token) {
            return Err(format!(
                "{url}: the registry refuses its own anonymous token (the image may be private)"
            ));
        }
        self.token = Some(token.to_string());
        Ok(true)
    }
}

fn check(response: &Response, url: &str, body: &[u8]) -> Result<(), String> {
    if response.ok() {
        return Ok(());
    }
    Err(format!(
        "{url}: the registry answered {}: {}",
        response.status,
        excerpt(body)
    ))
}

fn verify_bytes(bytes: &[u8], digest: &Digest, what: &str) -> Result<(), String> {
    let actual = Digest::of(bytes);
    if actual != *digest {
        return Err(format!(
            "digest mismatch: the {what} {digest} has digest {actual}"
        ));
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<(Digest, u64), String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut hasher = Hasher::default();
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = hasher.len();
    Ok((hasher.finish(), bytes))
}

/// The start of an error body, on one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(200).collect()
}

/// `Bearer realm="x",service="y"` → ("Bearer", [(realm, x), (service, y)]).
pub fn parse_challenge(text: &str) -> (String, Vec<(String, String)>) {
    let text = text.trim();
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        params.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    (scheme.to_string(), params)
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            param(&params, "realm"),
            Some("https://auth.docker.io/token")
        );
        assert_eq!(param(&params, "service"), Some("registry.docker.io"));
        assert_eq!(
            param(&params, "scope"),
            Some("repository:library/busybox:pull")
        );
        let (scheme, params) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(scheme, "Basic");
        assert_eq!(param(&params, "realm"), Some("Registry Realm"));
        let (_, params) = parse_challenge("Bearer realm=http://x/t, scope=a");
        assert_eq!(param(&params, "realm"), Some("http://x/t"));
        assert_eq!(param(&params, "scope"), Some("a"));
        assert_eq!(
            encode("repository:a/b:pull push"),
            "repository:a/b:pull%20push"
        );
    }
}
