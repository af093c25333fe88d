//! The media proxy's policy and client: which URLs may be fetched ([`MediaHosts`]),
//! which addresses may be connected to ([`is_forbidden`], [`GuardedResolver`]),
//! what the browser is told the bytes are ([`media_content_type`]), and the
//! fetch loop that follows redirects ([`fetch`]). The handler is `routes::media`.
//!
//! Google's media URLs need the bearer token and send no CORS headers, so the
//! browser cannot fetch them itself. The proxy forwards the caller's
//! `Authorization`, allows only Google's media hosts (in demo mode: the emulator's
//! media path on this same server), follows redirects itself so the token is not
//! dropped on the way, and streams the body without buffering it.
//!
//! Server-side request forgery is stopped twice in Google mode: the URL policy
//! admits only an explicit list of host names over https (never an IP literal, so
//! every connection goes through name resolution), and the client's resolver
//! drops every resolved address in a loopback, private, link-local, metadata or
//! otherwise non-public range. A DNS answer pointing a Google name at the home
//! network (rebinding, a poisoned cache, a hostile resolver) therefore reaches
//! nothing. Demo mode talks only to this helper's own loopback socket, by design.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use futures_util::future::BoxFuture;
use url::{Host, Url};

#[cfg(feature = "demo")]
use emulator::{MEDIA_PATH_PREFIX, VIDEO_PATH_PREFIX};

use crate::error::AppError;

/// The host names Google serves Picker `baseUrl` bytes from. Exact names, not a
/// `*.googleusercontent.com` wildcard: that domain also serves arbitrary
/// user-uploaded content (Drive downloads, Colab, Apps Script sandboxes), which
/// must not get the user's bearer token nor be streamed to the app.
///
/// `lh3` is what the Picker API returns (PICKER-API.md §3–4); `lh4`–`lh6` are
/// the same image service's shards, and `video-downloads` is where `=dv` has been
/// seen to redirect. A redirect to any other host is refused with its name in the
/// error, so a real account that needs another host shows which one.
pub const GOOGLE_MEDIA_HOSTS: [&str; 5] = [
    "lh3.googleusercontent.com",
    "lh4.googleusercontent.com",
    "lh5.googleusercontent.com",
    "lh6.googleusercontent.com",
    "video-downloads.googleusercontent.com",
];

/// How many redirects one download may follow.
pub const MAX_REDIRECTS: usize = 5;

/// Which URLs the proxy may fetch.
#[derive(Debug, Clone)]
pub enum MediaHosts {
    /// `https` on [`GOOGLE_MEDIA_HOSTS`] only, on port 443.
    Google,
    /// Google's rules exactly, but its host names resolved to a stand-in on this
    /// machine's loopback (which [`MediaHosts::Google`] refuses to connect to):
    /// for tests of the Google-mode policy with the real names. No flag selects it.
    GoogleStandIn,
    /// The emulator's media path, always fetched from this helper's own socket,
    /// whatever host name the browser used.
    #[cfg(feature = "demo")]
    Demo {
        /// `http://127.0.0.1:PORT` of this helper.
        local_origin: Url,
        /// The emulator, whose video host (a second loopback port, started at its
        /// first `=dv`) is the one other origin a demo download may be sent to.
        emulator: emulator::Emulator,
    },
    /// Another helper's demo (`helper pick --server URL`): its media path at its
    /// origin, and its emulator's video host, which listens on loopback (so a
    /// demo's videos reach `helper pick` on the same machine).
    DemoServer {
        /// The server's origin.
        origin: Url,
    },
}

/// The demo's paths, known without the emulator crate (`helper pick --server`
/// reaches a demo of another helper).
const DEMO_MEDIA_PREFIX: &str = "/ppa/";
const DEMO_VIDEO_PREFIX: &str = "/download/";

impl MediaHosts {
    /// The demo allow-list for a helper listening on `local_addr` (an unspecified
    /// address is reached through loopback).
    #[cfg(feature = "demo")]
    pub fn demo(mut local_addr: SocketAddr, emulator: emulator::Emulator) -> anyhow::Result<Self> {
        if local_addr.ip().is_unspecified() {
            local_addr.set_ip(if local_addr.is_ipv4() {
                Ipv4Addr::LOCALHOST.into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            });
        }
        Ok(MediaHosts::Demo {
            emulator,
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
            MediaHosts::Google | MediaHosts::GoogleStandIn => {
                // `Url` has already decoded percent-escapes, folded case and parsed
                // every IPv4 spelling (`2130706433`, `0x7f.1`) into `Host::Ipv4`,
                // so an exact `Host::Domain` match leaves no alternate spelling.
                let host_ok = matches!(
                    raw.host(),
                    Some(Host::Domain(host)) if GOOGLE_MEDIA_HOSTS.contains(&host)
                );
                if raw.scheme() != "https" || !host_ok {
                    return Err(AppError::Forbidden(format!(
                        "only https URLs on Google's media hosts are proxied, not {}",
                        redact(raw)
                    )));
                }
                // `Url` drops an explicit `:443` on https, so any port is another one.
                if raw.port().is_some() {
                    return Err(AppError::Forbidden("media URLs use the https port".into()));
                }
                Ok(raw.clone())
            }
            MediaHosts::DemoServer { origin } => {
                let on_server =
                    raw.origin() == origin.origin() && raw.path().starts_with(DEMO_MEDIA_PREFIX);
                let loopback = match raw.host() {
                    Some(Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(Host::Domain(name)) => name == "localhost",
                    None => false,
                };
                let on_video_host = loopback && raw.path().starts_with(DEMO_VIDEO_PREFIX);
                if raw.scheme() != "http" && raw.scheme() != "https"
                    || !(on_server || on_video_host)
                {
                    return Err(AppError::Forbidden(format!(
                        "only the demo server's media URLs are fetched, not {}",
                        redact(raw)
                    )));
                }
                Ok(raw.clone())
            }
            #[cfg(feature = "demo")]
            MediaHosts::Demo {
                local_origin,
                emulator,
            } => {
                // The video host a `=dv` redirected to: its own origin, as is.
                let video_host = emulator
                    .started_video_origin()
                    .and_then(|origin| Url::parse(origin).ok());
                if video_host.is_some_and(|v| v.origin() == raw.origin())
                    && raw.path().starts_with(VIDEO_PATH_PREFIX)
                {
                    return Ok(raw.clone());
                }
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

    /// The URL a redirect from `current` to `location` leads to, if the policy
    /// allows it. Each hop is checked like the first URL.
    pub fn next_hop(&self, current: &Url, location: &str) -> Result<Url, AppError> {
        let next = current
            .join(location)
            .map_err(|_| AppError::Upstream("redirect to an invalid URL".into()))?;
        self.resolve(&next)
    }

    /// Whether connecting to `addr` is against the policy. In Google mode that is
    /// [`is_forbidden`]; in demo mode the proxy talks to this helper's own
    /// loopback socket by design, so nothing is.
    pub fn forbids_peer(&self, addr: IpAddr) -> bool {
        match self {
            MediaHosts::Google => is_forbidden(addr),
            MediaHosts::GoogleStandIn => !addr.is_loopback(),
            #[cfg(feature = "demo")]
            MediaHosts::Demo { .. } => false,
            MediaHosts::DemoServer { .. } => false,
        }
    }
}

/// Whether `ip` is outside the public unicast Internet, and so must never be
/// contacted on behalf of a media URL: loopback, private and unique-local,
/// link-local (with the cloud metadata addresses), shared CGNAT space,
/// unspecified, broadcast, multicast, documentation, benchmarking and reserved
/// ranges, and the IPv6 forms that embed such an IPv4 address.
///
/// IPv6 is judged by allow-listing global unicast (`2000::/3`) and then carving
/// out its special blocks, so a range this list forgot is refused, not admitted.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", with 0.0.0.0
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, with 169.254.169.254 (metadata)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments (192.0.0.192: metadata)
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224 // multicast, reserved, broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Forms that carry an IPv4 address are as good as that address: mapped
    // (::ffff:a.b.c.d), compatible (::a.b.c.d, deprecated), NAT64 (64:ff9b::/96)
    // and 6to4 (2002:AABB:CCDD::/48).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    if segments[..6] == [0; 6] {
        return is_forbidden_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(segments[1], segments[2]));
    }
    // Everything else outside global unicast 2000::/3 is refused: unique-local
    // fc00::/7 (with fd00:ec2::254, metadata), link-local fe80::/10, site-local,
    // multicast ff00::/8, discard 100::/64, NAT64 local use 64:ff9b:1::/48.
    if segments[0] & 0xe000 != 0x2000 {
        return true;
    }
    // In 2001::/16: the IETF special-purpose block 2001::/23 (Teredo, benchmarking,
    // ORCHID) and documentation 2001:db8::/32. Then documentation 3fff::/20.
    let special_2001 = segments[1] < 0x200 || segments[1] == 0x0db8;
    (segments[0] == 0x2001 && special_2001) || segments[0] & 0xfff0 == 0x3ff0
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// The addresses of `name` that may be contacted, or an error when there are none.
pub fn allowed_addresses(
    name: &str,
    addresses: impl IntoIterator<Item = IpAddr>,
) -> Result<Vec<IpAddr>, ForbiddenAddress> {
    let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) =
        addresses.into_iter().partition(|ip| !is_forbidden(*ip));
    if allowed.is_empty() {
        return Err(ForbiddenAddress {
            name: name.to_owned(),
            refused,
        });
    }
    if !refused.is_empty() {
        // A public name with some private answers is odd (a split-horizon or a
        // hostile resolver); the public ones are still fine to use.
        tracing::warn!(
            name,
            ?refused,
            "dropped non-public addresses of a media host"
        );
    }
    Ok(allowed)
}

/// Every address a media host name resolved to is in a forbidden range.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{name} resolves only to non-public addresses ({refused:?}); refusing to connect")]
pub struct ForbiddenAddress {
    /// The name that was resolved.
    pub name: String,
    /// What it resolved to (empty when it resolved to nothing).
    pub refused: Vec<IpAddr>,
}

/// How a [`GuardedResolver`] turns a name into addresses before filtering.
type Lookup = Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

/// The proxy client's DNS resolver: looks a name up, then keeps only the
/// addresses [`is_forbidden`] allows, and fails when none is left. reqwest calls
/// it for every host name it connects to; IP literals bypass resolvers, which is
/// why the URL policy refuses them in Google mode.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Lookup,
}

impl GuardedResolver {
    /// Resolves with the operating system (`getaddrinfo`, on a blocking thread).
    pub fn system() -> Self {
        Self::with_lookup(|name| async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }

    /// Resolves with `lookup` (tests use a fixed table, so no DNS query leaves
    /// the machine).
    pub fn with_lookup<F, Fut>(lookup: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static,
    {
        GuardedResolver {
            lookup: Arc::new(move |name| Box::pin(lookup(name))),
        }
    }
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver").finish_non_exhaustive()
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        let lookup = (self.lookup)(name.clone());
        Box::pin(async move {
            let found = lookup.await?;
            let allowed = allowed_addresses(&name, found)?;
            // Port 0: reqwest puts the URL's port in.
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
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

/// Builds the HTTP client the proxy uses, resolving through
/// [`GuardedResolver::system`].
pub fn client(read_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    client_with_resolver(read_timeout, GuardedResolver::system())
}

/// Builds the proxy's HTTP client with `resolver`: no automatic redirects (we
/// follow them ourselves, re-checking each hop), no proxy from the environment
/// (a proxy would resolve the target itself, out of the resolver's reach), a
/// connect timeout and an idle read timeout (a total timeout would cut off large
/// videos on slow links).
pub fn client_with_resolver(
    read_timeout: Duration,
    resolver: GuardedResolver,
) -> anyhow::Result<reqwest::Client> {
    Ok(client_builder(read_timeout, resolver).build()?)
}

/// The builder [`client_with_resolver`] builds (tests add a stand-in's address and
/// certificate to it).
pub fn client_builder(read_timeout: Duration, resolver: GuardedResolver) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(resolver)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(read_timeout)
        .user_agent(concat!("keepsake-helper/", env!("CARGO_PKG_VERSION")))
}

/// Installs ring as the process's TLS crypto provider (reqwest is built without a
/// default one). Every reqwest client needs it; calling it again does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Fetches `url` through `client` under the one hop policy of every media
/// download (the proxy's, and the helper's own): follows up to [`MAX_REDIRECTS`]
/// redirects, each hop re-checked against `hosts`; sends `authorization` to the
/// URL's own host only (a redirect to another host — Google's video host needs no
/// token — gets none); forwards `range` (and `if_range`) to every hop. Returns the
/// first response that is not a redirect; the body is not read.
pub async fn fetch(
    client: &reqwest::Client,
    hosts: &MediaHosts,
    url: &Url,
    authorization: Option<&HeaderValue>,
    range: Option<&HeaderValue>,
) -> Result<reqwest::Response, AppError> {
    fetch_ranged(client, hosts, url, authorization, range, None).await
}

/// [`fetch`] with an `If-Range` validator besides the range.
pub async fn fetch_ranged(
    client: &reqwest::Client,
    hosts: &MediaHosts,
    url: &Url,
    authorization: Option<&HeaderValue>,
    range: Option<&HeaderValue>,
    if_range: Option<&HeaderValue>,
) -> Result<reqwest::Response, AppError> {
    let mut target = hosts.resolve(url)?;
    let own_origin = target.origin();
    let mut redirects = 0;
    loop {
        let mut request = client.get(target.clone());
        if let Some(value) = authorization
            && target.origin() == own_origin
        {
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(value) = range {
            request = request.header(header::RANGE, value);
        }
        if let Some(value) = if_range {
            request = request.header(header::IF_RANGE, value);
        }
        let response = request.send().await.map_err(upstream_error)?;
        // The resolver already refused such peers; this catches any path to a
        // connection that bypassed it, before a byte of the answer is passed on.
        if let Some(peer) = response.remote_addr()
            && hosts.forbids_peer(peer.ip())
        {
            tracing::error!(%peer, url = %redact(&target), "media proxy reached a forbidden address");
            return Err(AppError::Forbidden(
                "the media host resolved to a non-public address".into(),
            ));
        }
        if !response.status().is_redirection() {
            return Ok(response);
        }
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(AppError::Upstream("too many redirects".into()));
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| AppError::Upstream("redirect without a location".into()))?;
        target = hosts.next_hop(&target, location)?;
    }
}

/// The `Content-Type` the proxy answers with: the upstream's when it is a
/// well-formed `image/*` or `video/*` type (reduced to `type/subtype`, lowercase),
/// else `application/octet-stream`. SVG and other XML images are not images here:
/// opened directly they are documents that run scripts.
pub fn media_content_type(upstream: Option<&HeaderValue>) -> HeaderValue {
    const FALLBACK: HeaderValue = HeaderValue::from_static("application/octet-stream");
    let Some(essence) = upstream
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
    else {
        return FALLBACK;
    };
    let Some((kind, subtype)) = essence.split_once('/') else {
        return FALLBACK;
    };
    // RFC 9110 token characters only: no spaces, quotes, slashes or controls.
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let media = matches!(kind, "image" | "video");
    let scriptable = subtype.ends_with("+xml") || subtype == "xml";
    if !media || scriptable || !is_token(subtype) {
        return FALLBACK;
    }
    HeaderValue::from_str(&essence).unwrap_or(FALLBACK)
}

pub(crate) fn upstream_error(err: reqwest::Error) -> AppError {
    // The resolver's refusal travels inside reqwest's connect error.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(current) = source {
        if let Some(forbidden) = current.downcast_ref::<ForbiddenAddress>() {
            tracing::warn!(error = %forbidden, "media proxy refused a non-public address");
            return AppError::Forbidden("the media host resolved to a non-public address".into());
        }
        source = current.source();
    }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn google_mode_allows_only_the_listed_hosts_over_https() {
        let hosts = MediaHosts::Google;
        for good in [
            "https://lh3.googleusercontent.com/abc=d",
            "https://LH3.GoogleUserContent.com/abc=d",
            "https://lh3.googleusercontent.com:443/abc=d",
            "https://lh6.googleusercontent.com/abc=w256-h256-c",
            "https://video-downloads.googleusercontent.com/x=dv",
        ] {
            assert!(hosts.resolve(&url(good)).is_ok(), "{good} was refused");
        }
        for bad in [
            "http://lh3.googleusercontent.com/abc=d",
            "https://googleusercontent.com.evil.example/abc",
            "https://evilgoogleusercontent.com/abc",
            "https://doc-0s-docs.googleusercontent.com/abc",
            "https://lh3.googleusercontent.com:8443/abc",
            // A host nobody has seen Picker bytes come from.
            "https://video.googleusercontent.com/x=dv",
            "https://user:pw@lh3.googleusercontent.com/abc",
            "https://127.0.0.1/abc",
            "file:///etc/passwd",
        ] {
            assert!(hosts.resolve(&url(bad)).is_err(), "{bad} was allowed");
        }
    }

    #[test]
    fn the_address_decision_refuses_every_non_public_range() {
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.100.100.200",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.192",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.10",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:c0a8:0101::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad} was allowed");
        }
        for good in [
            "142.250.74.97",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "223.255.255.255",
            "2a00:1450:4001:82b::2001",
            "2001:4860:4860::8888",
            "::ffff:142.250.74.97",
            "64:ff9b::8efa:4a61",
            "2002:8efa:4a61::1",
        ] {
            assert!(!is_forbidden(ip(good)), "{good} was refused");
        }
    }

    #[test]
    fn a_name_is_usable_when_at_least_one_address_is_public() {
        let mixed = allowed_addresses(
            "lh3.googleusercontent.com",
            [ip("127.0.0.1"), ip("142.250.74.97"), ip("fd00::1")],
        )
        .unwrap();
        assert_eq!(mixed, [ip("142.250.74.97")]);
        let err = allowed_addresses(
            "lh3.googleusercontent.com",
            [ip("127.0.0.1"), ip("::ffff:192.168.0.1")],
        )
        .unwrap_err();
        assert_eq!(err.refused.len(), 2);
        assert!(allowed_addresses("lh3.googleusercontent.com", []).is_err());
    }

    #[tokio::test]
    async fn the_resolver_filters_what_the_lookup_answers() {
        use reqwest::dns::Resolve;
        let resolver = GuardedResolver::with_lookup(|name| async move {
            Ok(match name.as_str() {
                "public.test" => vec![ip("10.0.0.1"), ip("2a00:1450:4001:82b::2001")],
                _ => vec![ip("169.254.169.254")],
            })
        });
        let addrs: Vec<SocketAddr> = resolver
            .resolve("public.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, ["[2a00:1450:4001:82b::2001]:0".parse().unwrap()]);
        let Err(err) = resolver.resolve("metadata.test".parse().unwrap()).await else {
            panic!("metadata.test resolved");
        };
        assert!(err.downcast_ref::<ForbiddenAddress>().is_some(), "{err}");
    }

    #[test]
    fn only_image_and_video_types_pass_and_everything_else_is_octet_stream() {
        for (upstream, expected) in [
            (Some("image/jpeg"), "image/jpeg"),
            (Some("IMAGE/HEIC"), "image/heic"),
            (Some("video/mp4; codecs=\"avc1\""), "video/mp4"),
            (Some(" image/webp "), "image/webp"),
            (Some("text/html"), "application/octet-stream"),
            (Some("image/svg+xml"), "application/octet-stream"),
            (
                Some("image/svg+xml; charset=utf-8"),
                "application/octet-stream",
            ),
            (Some("application/javascript"), "application/octet-stream"),
            (Some("image/"), "application/octet-stream"),
            (Some("image"), "application/octet-stream"),
            (Some("image/jpeg/html"), "application/octet-stream"),
            (Some("image/j peg"), "application/octet-stream"),
            (
                Some("multipart/x-mixed-replace"),
                "application/octet-stream",
            ),
            (Some("imagex/png"), "application/octet-stream"),
            (None, "application/octet-stream"),
        ] {
            let value = upstream.map(|s| HeaderValue::from_str(s).unwrap());
            assert_eq!(media_content_type(value.as_ref()), expected, "{upstream:?}");
        }
        let not_utf8 = HeaderValue::from_bytes(b"image/\xffpng").unwrap();
        assert_eq!(
            media_content_type(Some(&not_utf8)),
            "application/octet-stream"
        );
    }

    #[test]
    fn redirects_are_checked_like_the_first_url() {
        let hosts = MediaHosts::Google;
        let from = url("https://lh3.googleusercontent.com/abc=dv");
        assert_eq!(
            hosts
                .next_hop(&from, "https://video-downloads.googleusercontent.com/v")
                .unwrap()
                .as_str(),
            "https://video-downloads.googleusercontent.com/v"
        );
        assert_eq!(
            hosts.next_hop(&from, "/other=d").unwrap().as_str(),
            "https://lh3.googleusercontent.com/other=d"
        );
        for location in [
            "http://169.254.169.254/latest/meta-data/",
            "//127.0.0.1/x",
            "http://lh3.googleusercontent.com/x",
            "https://lh3.googleusercontent.com@127.0.0.1/x",
            "https://[::1]/x",
            "file:///etc/passwd",
        ] {
            assert!(hosts.next_hop(&from, location).is_err(), "{location}");
        }
    }

    #[cfg(feature = "demo")]
    fn demo_emulator() -> emulator::Emulator {
        emulator::Emulator::new(emulator::EmulatorConfig {
            large_file_count: 0,
            ..emulator::EmulatorConfig::default()
        })
        .unwrap()
    }

    #[cfg(feature = "demo")]
    #[test]
    fn demo_mode_rewrites_to_the_local_socket_and_blocks_traversal() {
        let hosts = MediaHosts::Demo {
            local_origin: url("http://127.0.0.1:4321"),
            emulator: demo_emulator(),
        };
        let target = hosts
            .resolve(&url("http://localhost:9999/ppa/abc=w256-h256?x=1"))
            .unwrap();
        assert_eq!(
            target.as_str(),
            "http://127.0.0.1:4321/ppa/abc=w256-h256?x=1"
        );
        for bad in [
            "http://localhost:9999/ppa/../../api/history",
            "http://localhost:9999/ppa/%2e%2e/%2e%2e/api/history",
            "http://localhost:9999/api/history",
            "http://localhost:9999/emulator/picker/v1/sessions",
            "ftp://localhost/ppa/abc",
            // The video host's path on this socket, or on a host that is not it.
            "http://localhost:9999/download/abc",
            "http://127.0.0.1:1/download/abc",
        ] {
            assert!(hosts.resolve(&url(bad)).is_err(), "{bad} was allowed");
        }
    }

    #[cfg(feature = "demo")]
    #[tokio::test]
    async fn demo_mode_admits_the_started_video_host_as_it_is() {
        let emulator = demo_emulator();
        let hosts = MediaHosts::Demo {
            local_origin: url("http://127.0.0.1:4321"),
            emulator: emulator.clone(),
        };
        let origin = emulator.video_origin().await.unwrap();
        let video = url(&format!("{origin}/download/abc"));
        assert_eq!(hosts.resolve(&video).unwrap(), video);
    }

    #[test]
    fn a_demo_servers_paths_are_the_emulators() {
        #[cfg(feature = "demo")]
        assert_eq!(
            (DEMO_MEDIA_PREFIX, DEMO_VIDEO_PREFIX),
            (emulator::MEDIA_PATH_PREFIX, emulator::VIDEO_PATH_PREFIX)
        );
        let hosts = MediaHosts::DemoServer {
            origin: url("http://nas.local:8080"),
        };
        for good in [
            "http://nas.local:8080/ppa/abc=d",
            "http://127.0.0.1:4444/download/abc",
            "http://localhost:4444/download/abc",
        ] {
            assert!(hosts.resolve(&url(good)).is_ok(), "{good}");
        }
        for bad in [
            "http://nas.local:8080/api/history",
            "http://nas.local:9090/ppa/abc",
            "http://192.168.1.9:4444/download/abc",
            "http://127.0.0.1:4444/api/history",
        ] {
            assert!(hosts.resolve(&url(bad)).is_err(), "{bad}");
        }
    }
}
