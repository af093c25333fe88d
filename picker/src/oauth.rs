//! The OAuth 2.0 browser token flow: the authorization URL and the fragment that
//! comes back (`#access_token=…` or `#error=…`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters is encoded, so values survive any
/// query or fragment parser.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// The URL that starts the browser token flow (`response_type=token`).
///
/// `auth_url` is Google's (`GOOGLE_AUTH_URL`) or the emulator's; every value is
/// percent-encoded. `redirect_uri` must be registered exactly (scheme, host, port,
/// trailing slash).
pub fn authorize_url(
    auth_url: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    login_hint: Option<&str>,
) -> String {
    let separator = if auth_url.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{auth_url}{separator}client_id={}&redirect_uri={}&response_type=token&scope={}&state={}",
        encode_component(client_id),
        encode_component(redirect_uri),
        encode_component(scope),
        encode_component(state),
    );
    if let Some(hint) = login_hint {
        url.push_str("&login_hint=");
        url.push_str(&encode_component(hint));
    }
    url
}

/// A successful sign-in: what the token flow puts in the redirect's fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The bearer token for API and media calls.
    pub access_token: String,
    /// Always `Bearer` with Google.
    pub token_type: String,
    /// Seconds the token lives from when it was issued (about 3599).
    pub expires_in: u64,
    /// Space-separated scopes granted (may differ from those asked for).
    pub scope: String,
    /// The `state` sent with the request, to be compared by the caller.
    pub state: Option<String>,
}

/// A failed sign-in: `#error=access_denied&state=…`, or a fragment that is not a
/// valid answer at all (`error` is then `invalid_response`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sign-in failed: {error}")]
pub struct OAuthError {
    /// The OAuth error code, e.g. `access_denied`.
    pub error: String,
    /// The `state` sent with the request, when the answer carried it.
    pub state: Option<String>,
}

/// Reads the fragment of the redirect after the token flow (with or without the
/// leading `#`).
pub fn parse_token_fragment(fragment: &str) -> Result<TokenGrant, OAuthError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let mut access_token = None;
    let mut token_type = None;
    let mut expires_in = None;
    let mut scope = None;
    let mut state = None;
    let mut error = None;
    for pair in fragment.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode_form_value(value);
        match key {
            "access_token" => access_token = Some(value),
            "token_type" => token_type = Some(value),
            "expires_in" => expires_in = Some(value),
            "scope" => scope = Some(value),
            "state" => state = Some(value),
            "error" => error = Some(value),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(OAuthError { error, state });
    }
    let invalid = |state: Option<String>| OAuthError {
        error: "invalid_response".to_owned(),
        state,
    };
    let (Some(access_token), Some(expires_in)) = (access_token, expires_in) else {
        return Err(invalid(state));
    };
    if access_token.is_empty() {
        return Err(invalid(state));
    }
    let Ok(expires_in) = expires_in.parse::<u64>() else {
        return Err(invalid(state));
    };
    Ok(TokenGrant {
        access_token,
        token_type: token_type.unwrap_or_else(|| "Bearer".to_owned()),
        expires_in,
        scope: scope.unwrap_or_default(),
        state,
    })
}

/// `application/x-www-form-urlencoded` value decoding: `+` is a space, then `%XX`.
fn decode_form_value(value: &str) -> String {
    let spaced = value.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_encodes_every_value() {
        let url = authorize_url(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "123.apps.googleusercontent.com",
            "http://localhost:8080/",
            crate::SCOPE,
            "s t&=",
            Some("ada@example.com"),
        );
        assert_eq!(
            url,
            "https://accounts.google.com/o/oauth2/v2/auth?client_id=123.apps.googleusercontent.com\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F&response_type=token\
             &scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fphotospicker.mediaitems.readonly\
             &state=s%20t%26%3D&login_hint=ada%40example.com"
        );
    }

    #[test]
    fn authorize_url_appends_to_an_existing_query() {
        let url = authorize_url("http://h/auth?x=1", "c", "r", "s", "st", None);
        assert_eq!(
            url,
            "http://h/auth?x=1&client_id=c&redirect_uri=r&response_type=token&scope=s&state=st"
        );
    }

    #[test]
    fn parses_a_google_token_fragment() {
        let grant = parse_token_fragment(
            "#access_token=ya29.a0Af-x_y&token_type=Bearer&expires_in=3599\
             &scope=https://www.googleapis.com/auth/photospicker.mediaitems.readonly&state=abc%3D",
        )
        .unwrap();
        assert_eq!(grant.access_token, "ya29.a0Af-x_y");
        assert_eq!(grant.token_type, "Bearer");
        assert_eq!(grant.expires_in, 3599);
        assert_eq!(grant.scope, crate::SCOPE);
        assert_eq!(grant.state.as_deref(), Some("abc="));
    }

    #[test]
    fn decodes_plus_and_percent_in_scope() {
        let grant = parse_token_fragment("access_token=t&expires_in=1&scope=a+b%20c").unwrap();
        assert_eq!(grant.scope, "a b c");
        assert_eq!(grant.state, None);
    }

    #[test]
    fn access_denied_is_an_error_with_state() {
        let err = parse_token_fragment("#error=access_denied&state=xyz").unwrap_err();
        assert_eq!(err.error, "access_denied");
        assert_eq!(err.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn error_wins_over_a_token() {
        let err = parse_token_fragment("access_token=t&expires_in=5&error=interaction_required")
            .unwrap_err();
        assert_eq!(err.error, "interaction_required");
    }

    #[test]
    fn incomplete_fragments_are_invalid_responses() {
        for bad in [
            "",
            "#",
            "state=s",
            "access_token=&expires_in=5",
            "access_token=t",
            "access_token=t&expires_in=soon",
        ] {
            let err = parse_token_fragment(bad).unwrap_err();
            assert_eq!(err.error, "invalid_response", "{bad:?}");
        }
        assert_eq!(
            parse_token_fragment("state=s")
                .unwrap_err()
                .state
                .as_deref(),
            Some("s")
        );
    }
}
