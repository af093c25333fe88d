//! OAuth: the consent page, the token flow's redirect, Google's authorization
//! error pages, `prompt=none`, token lifetime, revocation, and the code flow with
//! PKCE and refresh.

use std::time::Duration;

use emulator::EmulatorConfig;
use keepsake_tests::emulator_client::{
    MARIA, SCOPE, TOMAS, assert_google_error, attr_values, config, consent_id, get_pair,
    parse_pairs, query, start,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn token_flow_redirects_with_googles_fragment() {
    let emu = start(config()).await;
    let page = emu.consent_page("xyz=1&2", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let (target, fragment) = location.split_once('#').unwrap();
    assert_eq!(target, emu.redirect_uri());
    let pairs = parse_pairs(fragment);
    assert!(
        get_pair(&pairs, "access_token")
            .unwrap()
            .starts_with("ya29.")
    );
    assert_eq!(get_pair(&pairs, "token_type"), Some("Bearer"));
    assert_eq!(get_pair(&pairs, "expires_in"), Some("3599"));
    assert_eq!(get_pair(&pairs, "scope"), Some(SCOPE));
    assert_eq!(get_pair(&pairs, "state"), Some("xyz=1&2"));
}

#[tokio::test]
async fn consent_page_shows_the_family_with_test_ids() {
    let emu = start(config()).await;
    let page = emu.consent_page("s", &[]).await;
    let emails = attr_values(&page, "data-testid=\"consent-account\"", "data-email");
    assert!(emails.len() >= 3, "a family: {emails:?}");
    assert!(emails.contains(&MARIA.to_owned()) && emails.contains(&TOMAS.to_owned()));
    assert!(page.contains("data-testid=\"consent-allow\""));
    assert!(page.contains("data-testid=\"consent-cancel\""));
    // login_hint preselects that account.
    let hinted = emu.consent_page("s", &[("login_hint", TOMAS)]).await;
    let checked = hinted
        .split("data-testid=\"consent-account\"")
        .skip(1)
        .find(|chunk| chunk[..chunk.find("</label>").unwrap()].contains(" checked"))
        .unwrap();
    assert!(checked.contains(TOMAS));
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_state() {
    let emu = start(config()).await;
    let page = emu.consent_page("keep-me", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "cancel").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "error"), Some("access_denied"));
    assert_eq!(get_pair(&pairs, "state"), Some("keep-me"));
    assert_eq!(get_pair(&pairs, "access_token"), None);
}

#[tokio::test]
async fn a_consent_cannot_be_answered_twice() {
    let emu = start(config()).await;
    let page = emu.consent_page("s", &[]).await;
    emu.answer_consent(&page, MARIA, "allow").await;
    let res = emu
        .http
        .post(emu.url("/emulator/o/oauth2/v2/auth/consent"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("consent", &consent_id(&page)),
            ("account", "0"),
            ("action", "allow"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorization_errors_are_googles_pages() {
    let emu = start(EmulatorConfig {
        redirect_uris: vec!["http://localhost:9999/callback".to_owned()],
        ..config()
    })
    .await;
    let client = emu.emulator.config().client_id.clone();
    let good_redirect = emu.redirect_uri();
    let no_slash = emu.origin.clone();
    // (query, HTTP status, OAuth error code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("client_id", "nobody.apps.googleusercontent.com"),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "invalid_request",
        ),
        // Registered exactly: no trailing slash is another URI.
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &no_slash),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "redirect_uri_mismatch",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", "http://localhost:9999/other"),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "redirect_uri_mismatch",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", "https://www.googleapis.com/auth/photoslibrary"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "id_token_plus"),
                ("scope", SCOPE),
            ],
            400,
            "unsupported_response_type",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
                ("colour", "blue"),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (params, code, error) in cases {
        let res = emu.authorize(&params).await;
        assert_eq!(res.status().as_u16(), code, "{params:?}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("data-error=\"{error}\"")),
            "{params:?} → {html}"
        );
        assert!(!html.contains("consent-allow"));
    }
    // The configured extra redirect URI is accepted exactly.
    let res = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", "http://localhost:9999/callback"),
            ("response_type", "token"),
            ("scope", SCOPE),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_none_answers_interaction_required() {
    let emu = start(config()).await;
    let client = emu.emulator.config().client_id.clone();
    let redirect = emu.redirect_uri();
    let res = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", &redirect),
            ("response_type", "token"),
            ("scope", SCOPE),
            ("state", "s1"),
            ("prompt", "none"),
        ])
        .await;
    assert!(res.status().is_redirection());
    let location = res.headers()["location"].to_str().unwrap();
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "error"), Some("interaction_required"));
    assert_eq!(get_pair(&pairs, "state"), Some("s1"));
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let emu = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(120),
        ..config()
    })
    .await;
    let page = emu.consent_page("s", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "expires_in"), Some("119"));
    let token = get_pair(&pairs, "access_token").unwrap().to_owned();
    emu.create_ok(&token, json!({})).await;
    emu.emulator.advance_clock(Duration::from_secs(121));
    let res = emu.create(&token, json!({})).await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn revoke_ends_the_token() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(format!(
            "{}?{}",
            emu.url("/emulator/revoke"),
            query(&[("token", &token)])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = emu.create(&token, json!({})).await;
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    let again = emu
        .http
        .post(emu.url("/emulator/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[("token", &token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn code_flow_with_pkce_and_refresh() {
    let emu = start(config()).await;
    let config = emu.emulator.config().clone();
    // RFC 7636 appendix B pair.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    // Installed apps may use any loopback port.
    let redirect = "http://127.0.0.1:53682/";
    let res = emu
        .authorize(&[
            ("client_id", &config.client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("state", "c1"),
            ("access_type", "offline"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let (target, q) = location.split_once('?').unwrap();
    assert_eq!(target, redirect.trim_end_matches('/').to_owned() + "/");
    let pairs = parse_pairs(q);
    assert_eq!(get_pair(&pairs, "state"), Some("c1"));
    let code = get_pair(&pairs, "code").unwrap().to_owned();

    let exchange = |verifier: &str, code: &str| {
        emu.http
            .post(emu.url("/emulator/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("client_id", &config.client_id),
                ("client_secret", &config.client_secret),
                ("code_verifier", verifier),
            ]))
            .send()
    };
    // A wrong verifier burns the code (single use), as Google does.
    let bad = exchange("wrong-verifier", &code).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let page = emu
        .authorize(&[
            ("client_id", &config.client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("access_type", "offline"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .await
        .text()
        .await
        .unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let code = get_pair(&parse_pairs(location.split_once('?').unwrap().1), "code")
        .unwrap()
        .to_owned();
    let good = exchange(verifier, &code).await.unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let grant: Value = good.json().await.unwrap();
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3599);
    let access = grant["access_token"].as_str().unwrap();
    emu.create_ok(access, json!({})).await;
    let refresh = grant["refresh_token"].as_str().unwrap();
    let refreshed: Value = emu
        .http
        .post(emu.url("/emulator/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(refreshed["access_token"].as_str().is_some());
    // Google demands the client secret even with PKCE.
    let no_secret = emu
        .http
        .post(emu.url("/emulator/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &config.client_id),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(no_secret.status(), StatusCode::BAD_REQUEST);
}

/// requests-oauthlib (under google-auth-oauthlib's `InstalledAppFlow`) sends the
/// client's credentials as HTTP Basic; Google's docs show them in the form. Google
/// takes both, and so must the emulator; a wrong secret either way is refused.
#[tokio::test]
async fn the_token_endpoint_takes_client_secret_basic_and_client_secret_post() {
    let emu = start(config()).await;
    let config = emu.emulator.config().clone();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http://localhost:53682/";
    let code = || async {
        let page = emu
            .authorize(&[
                ("client_id", &config.client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", SCOPE),
                ("access_type", "offline"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
            .await
            .text()
            .await
            .unwrap();
        let location = emu.answer_consent(&page, MARIA, "allow").await;
        let pairs = parse_pairs(location.split_once('?').unwrap().1);
        get_pair(&pairs, "code").unwrap().to_owned()
    };
    let exchange = |code: String, basic: Option<(&str, &str)>, form: bool| {
        let mut fields = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ];
        if form {
            fields.push(("client_id", config.client_id.clone()));
            fields.push(("client_secret", config.client_secret.clone()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut request = emu
            .http
            .post(emu.url("/emulator/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&fields));
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    // client_secret_basic alone, as requests-oauthlib sends it.
    let res = exchange(
        code().await,
        Some((&config.client_id, &config.client_secret)),
        false,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    // client_secret_post alone, and both at once when they agree.
    for basic in [
        None,
        Some((config.client_id.as_str(), config.client_secret.as_str())),
    ] {
        let res = exchange(code().await, basic, true).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{basic:?}");
    }
    // A wrong secret in the header is invalid_client, as in the form.
    let res = exchange(code().await, Some((&config.client_id, "wrong")), false)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}
