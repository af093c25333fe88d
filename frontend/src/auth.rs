//! Google sign-in with the browser token flow: redirect to the authorization
//! endpoint with a random `state`, read the token from the URL fragment on the way
//! back, check the state, and keep the token in memory only.

use crate::browser;
use crate::client::ClientConfig;

/// Where the `state` waits during the redirect (it must survive the page change).
const STATE_KEY: &str = "keepsake.oauth.state";

/// A usable access token.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// When it stops working, in milliseconds since the epoch.
    pub expires_at_ms: f64,
}

impl AccessToken {
    /// Whether the token has (almost) expired at `now_ms`.
    pub fn is_expired(&self, now_ms: f64) -> bool {
        now_ms + 30_000.0 >= self.expires_at_ms
    }
}

/// The app's redirect URI: its own origin and `/`, as registered with Google.
pub fn redirect_uri() -> String {
    format!("{}/", browser::origin())
}

/// Sends the browser to the sign-in page.
pub fn start_sign_in(config: &ClientConfig, login_hint: Option<&str>) -> Result<(), String> {
    let state = browser::random_id()?;
    browser::session_set(STATE_KEY, &state)?;
    let url = picker::authorize_url(
        &config.oauth.auth_url,
        &config.oauth.client_id,
        &redirect_uri(),
        &config.oauth.scope,
        &state,
        login_hint,
    );
    browser::navigate(&url)
}

/// What the URL fragment said after a sign-in redirect.
#[derive(Debug, Clone, PartialEq)]
pub enum Return {
    /// Signed in.
    Token(AccessToken),
    /// Refused, cancelled or tampered with; the message says which.
    Failed(String),
}

/// Reads (and removes from the address bar) a sign-in answer, if the page was
/// opened by one.
pub fn take_return(now_ms: f64) -> Option<Return> {
    let hash = browser::hash();
    let fragment = hash.strip_prefix('#').unwrap_or(&hash);
    if !fragment.contains("access_token=") && !fragment.contains("error=") {
        return None;
    }
    // The token must not linger in the address bar or the history.
    browser::clear_hash();
    let expected = browser::session_take(STATE_KEY);
    Some(match picker::parse_token_fragment(fragment) {
        Ok(grant) => {
            if expected.is_none() || grant.state != expected {
                Return::Failed(
                    "the sign-in answer did not match this tab's request; please sign in again"
                        .into(),
                )
            } else if !grant.scope.split_whitespace().any(|s| s == picker::SCOPE) {
                // Granular consent: the photos box was unticked. The token is good
                // for nothing Keepsake does: drop it and ask again.
                Return::Failed(
                    "Keepsake was not allowed to see the photos you pick: sign in again and \
                     leave “View the photos and videos you select in Google Photos” ticked"
                        .into(),
                )
            } else {
                Return::Token(AccessToken {
                    token: grant.access_token,
                    expires_at_ms: now_ms + grant.expires_in as f64 * 1000.0,
                })
            }
        }
        Err(err) if err.error == "access_denied" => Return::Failed(
            "sign-in was cancelled: Keepsake needs your permission to see the photos you pick"
                .into(),
        ),
        Err(err) => Return::Failed(format!("sign-in failed: {}", err.error)),
    })
}

/// `url` on `origin`: its path and query kept, its scheme, host and port replaced.
///
/// In demo mode the emulator lives on the helper, and the page may reach the helper
/// through another origin: `trunk serve` proxies `/api` and `/emulator` from :8081
/// but sends the helper `Host: 127.0.0.1` without the port, so the absolute URLs
/// the emulator builds from that header (sign-in, picker page) point at port 80.
/// Rebased on the page's own origin they go through the same proxy and work.
pub fn rebase(url: &str, origin: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let path = rest.find('/').map_or("/", |slash| &rest[slash..]);
    format!("{}{path}", origin.trim_end_matches('/'))
}

/// [`rebase`] for every emulator URL of a demo helper's configuration.
pub fn rebase_demo_config(config: &mut api::ClientConfig, origin: &str) {
    if config.mode != api::Mode::Demo {
        return;
    }
    for url in [
        &mut config.oauth.auth_url,
        &mut config.oauth.token_url,
        &mut config.oauth.revoke_url,
        &mut config.picker_api,
    ] {
        *url = rebase(url, origin);
    }
}

/// Google refuses browser sign-in from plain-http origins other than localhost,
/// and from any origin whose host is an IP address (but loopback) or a name with
/// no public domain (`nas`, `nas.local`, `nas.lan`, PICKER-API.md §5). Returns an
/// explanation when this page is served from one, before the user tries.
pub fn origin_problem(mode: api::Mode) -> Option<String> {
    if mode != api::Mode::Google {
        return None;
    }
    let origin = browser::origin();
    let fix = "Serve the helper over https under a domain name (--tls-cert/--tls-key), or \
               reach it through an SSH tunnel so the browser sees http://localhost:PORT.";
    if plain_http_off_this_machine(&origin) {
        return Some(format!(
            "Google only allows sign-in from https addresses or from localhost, and this page \
             is {origin}. {fix}"
        ));
    }
    unregistrable_host(&origin)
        .map(|why| format!("Google will refuse to sign in from {origin}: {why}. {fix}"))
}

/// Suffixes of names that only mean something on a home network (RFC 6762's
/// `.local`, RFC 8375's `home.arpa`, and the ones routers hand out).
const PRIVATE_SUFFIXES: [&str; 9] = [
    "local",
    "lan",
    "home",
    "home.arpa",
    "internal",
    "intranet",
    "localdomain",
    "corp",
    "private",
];

/// Why Google cannot register `origin`'s host as a JavaScript origin, if it
/// cannot: an IP address other than loopback, or a name with no public domain.
pub fn unregistrable_host(origin: &str) -> Option<&'static str> {
    let authority = origin.split_once("://")?.1.split('/').next().unwrap_or("");
    if authority.starts_with('[') {
        let host = authority
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[');
        return match host.parse::<std::net::Ipv6Addr>() {
            Ok(ip) if ip.is_loopback() => None,
            _ => Some("its address is an IP address, which Google does not accept"),
        };
    }
    let host = authority
        .split(':')
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return (!ip.is_loopback())
            .then_some("its address is an IP address, which Google does not accept");
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return None;
    }
    let private = PRIVATE_SUFFIXES
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")));
    if !host.contains('.') || private {
        return Some("its name has no public domain (Google wants a name like photos.example.org)");
    }
    None
}

/// Whether `origin` is plain http to another machine: what the page sends there (a
/// passphrase, a session cookie, photos) crosses the network where anyone on it can
/// read it. Loopback (`localhost`, `127.x.y.z`, `[::1]`) never leaves this machine.
pub fn plain_http_off_this_machine(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let authority = authority.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let host = host.to_ascii_lowercase();
    let local = host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    !local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_readable_off_this_machine_only() {
        for (origin, readable) in [
            ("http://192.168.1.20:8080", true),
            ("http://nas.local", true),
            ("http://[fd00::2]:8080", true),
            ("http://localhost:8080", false),
            ("http://app.localhost:8081", false),
            ("http://127.0.0.1:8080", false),
            ("http://127.1.2.3", false),
            ("http://[::1]:8080", false),
            ("http://[::1]", false),
            ("https://192.168.1.20:8443", false),
            ("https://photos.example.org", false),
        ] {
            assert_eq!(plain_http_off_this_machine(origin), readable, "{origin}");
        }
    }

    #[test]
    fn origins_google_cannot_register_are_named() {
        for (origin, refused) in [
            ("https://192.168.1.20:8443", true),
            ("https://[fd00::2]:8443", true),
            ("https://nas:8443", true),
            ("https://nas.local", true),
            ("https://nas.lan:8443", true),
            ("https://nas.home.arpa", true),
            ("https://photos.example.org", false),
            ("https://photos.example.org.:8443", false),
            ("http://localhost:8080", false),
            ("http://app.localhost:8081", false),
            ("http://127.0.0.1:8080", false),
            ("http://[::1]:8080", false),
            ("https://local.example.com", false),
        ] {
            assert_eq!(unregistrable_host(origin).is_some(), refused, "{origin}");
        }
    }

    #[test]
    fn demo_urls_move_to_the_pages_origin_and_keep_path_and_query() {
        assert_eq!(
            rebase(
                "http://127.0.0.1/emulator/picker-ui/abc?x=1",
                "http://127.0.0.1:8081"
            ),
            "http://127.0.0.1:8081/emulator/picker-ui/abc?x=1"
        );
        assert_eq!(rebase("http://h:1", "https://a.b/"), "https://a.b/");
        assert_eq!(rebase("not a url", "http://x"), "not a url");
        let mut config = api::ClientConfig {
            mode: api::Mode::Demo,
            oauth: api::OAuthConfig {
                client_id: "c".into(),
                auth_url: "http://127.0.0.1/emulator/o/oauth2/v2/auth".into(),
                token_url: "http://127.0.0.1/emulator/token".into(),
                revoke_url: "http://127.0.0.1/emulator/revoke".into(),
                scope: "s".into(),
            },
            picker_api: "http://127.0.0.1/emulator/picker/v1".into(),
            family: false,
            member: None,
            version: "0.1.0 (test)".into(),
        };
        let google = api::ClientConfig {
            mode: api::Mode::Google,
            ..config.clone()
        };
        rebase_demo_config(&mut config, "http://127.0.0.1:8081");
        assert_eq!(
            config.oauth.auth_url,
            "http://127.0.0.1:8081/emulator/o/oauth2/v2/auth"
        );
        assert_eq!(
            config.picker_api,
            "http://127.0.0.1:8081/emulator/picker/v1"
        );
        let mut untouched = google.clone();
        rebase_demo_config(&mut untouched, "http://127.0.0.1:8081");
        assert_eq!(untouched, google, "Google's own endpoints never move");
    }
}
