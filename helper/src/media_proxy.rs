//! The media proxy's policy and client: which URLs may be fetched ([`MediaHosts`])
//! and the HTTP client that fetches them. The handler is `routes::media`.
//!
//! Google's media URLs need the bearer token and send no CORS headers, so the
//! browser cannot fetch them itself. The proxy forwards the caller's
//! `Authorization`, allows only Google's media hosts (in demo mode: the emulator's
//! media path on this same server), follows redirects itself so the token is not
//! dropped on the way, and streams the body without buffering it.

use std::time::Duration;

use url::Url;

#[cfg(feature = "demo")]
use emulator::MEDIA_PATH_PREFIX;

use crate::error::AppError;

/// Which URLs the proxy may fetch.
#[derive(Debug, Clone)]
pub enum MediaHosts {
    /// `https` on `*.googleusercontent.com` only.
    Google,
    /// The emulator's media path, always fetched from this helper's own socket,
    /// whatever host name the browser used.
    #[cfg(feature = "demo")]
    Demo {
        /// `http://127.0.0.1:PORT` of this helper.
        local_origin: Url,
    },
}

impl MediaHosts {
    /// The demo allow-list for a helper listening on `local_addr` (an unspecified
    /// address is reached through loopback).
    #[cfg(feature = "demo")]
    pub fn demo(mut local_addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        if local_addr.ip().is_unspecified() {
            local_addr.set_ip(if local_addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        Ok(MediaHosts::Demo {
            local_origin: Url::parse(&format!("http://{local_addr}"))?,
        })
    }

    /// Checks `raw` against the allow-list and returns the URL to fetch.
    pub fn resolve(&self, raw: &Url) -> Result<Url, AppError> {
        if !raw.username().is_empty() || raw.password().is_some() {
            return Err(AppError::Forbidden(
                "media URLs carry no credentials".into(),
            ));
        }
        match self {
            MediaHosts::Google => {
                let host_ok = raw
                    .host_str()
                    .is_some_and(|host| host.ends_with(".googleusercontent.com"));
                if raw.scheme() != "https" || !host_ok {
                    return Err(AppError::Forbidden(format!(
                        "only https URLs on *.googleusercontent.com are proxied, not {}",
                        redact(raw)
                    )));
                }
                if raw.port().is_some_and(|port| port != 443) {
                    return Err(AppError::Forbidden("media URLs use the https port".into()));
                }
                Ok(raw.clone())
            }
            #[cfg(feature = "demo")]
            MediaHosts::Demo { local_origin } => {
                // `Url` has already resolved any `..` segments, so this prefix check
                // cannot be escaped to reach `/api` or the app.
                if !matches!(raw.scheme(), "http" | "https")
                    || !raw.path().starts_with(MEDIA_PATH_PREFIX)
                {
                    return Err(AppError::Forbidden(format!(
                        "only the emulator's media URLs ({MEDIA_PATH_PREFIX}…) are proxied in demo mode, not {}",
                        redact(raw)
                    )));
                }
                let mut target = local_origin.clone();
                target.set_path(raw.path());
                target.set_query(raw.query());
                Ok(target)
            }
        }
    }
}

/// A URL for logs and messages: without its query (which may hold tokens).
pub fn redact(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

/// Builds the HTTP client the proxy uses: no automatic redirects (we follow them
/// ourselves, re-checking each hop), a connect timeout and an idle read timeout
/// (a total timeout would cut off large videos on slow links).
pub fn client(read_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(read_timeout)
        .user_agent(concat!("keepsake-helper/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Installs ring as the process's TLS crypto provider (reqwest is built without a
/// default one). Every reqwest client needs it; calling it again does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn upstream_error(err: reqwest::Error) -> AppError {
    if err.is_timeout() {
        AppError::Timeout
    } else {
        tracing::warn!(error = %err, "media upstream failed");
        AppError::Upstream("could not reach the media server".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn google_mode_allows_only_https_googleusercontent() {
        let hosts = MediaHosts::Google;
        assert!(
            hosts
                .resolve(&url("https://lh3.googleusercontent.com/abc=d"))
                .is_ok()
        );
        assert!(
            hosts
                .resolve(&url("https://video.googleusercontent.com/x=dv"))
                .is_ok()
        );
        for bad in [
            "http://lh3.googleusercontent.com/abc=d",
            "https://googleusercontent.com.evil.example/abc",
            "https://evilgoogleusercontent.com/abc",
            "https://lh3.googleusercontent.com:8443/abc",
            "https://user:pw@lh3.googleusercontent.com/abc",
            "https://127.0.0.1/abc",
            "file:///etc/passwd",
        ] {
            assert!(hosts.resolve(&url(bad)).is_err(), "{bad} was allowed");
        }
    }

    #[cfg(feature = "demo")]
    #[test]
    fn demo_mode_rewrites_to_the_local_socket_and_blocks_traversal() {
        let hosts = MediaHosts::Demo {
            local_origin: url("http://127.0.0.1:4321"),
        };
        let target = hosts
            .resolve(&url(
                "http://localhost:9999/emulator/media/abc=w256-h256?x=1",
            ))
            .unwrap();
        assert_eq!(
            target.as_str(),
            "http://127.0.0.1:4321/emulator/media/abc=w256-h256?x=1"
        );
        for bad in [
            "http://localhost:9999/emulator/media/../../api/history",
            "http://localhost:9999/emulator/media/%2e%2e/%2e%2e/api/history",
            "http://localhost:9999/api/history",
            "http://localhost:9999/emulator/picker/v1/sessions",
            "ftp://localhost/emulator/media/abc",
        ] {
            assert!(hosts.resolve(&url(bad)).is_err(), "{bad} was allowed");
        }
    }
}
