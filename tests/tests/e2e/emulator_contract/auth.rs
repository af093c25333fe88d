//! Picker API: authentication and CORS — every call needs a valid bearer token
//! with the picker scope, and the JSON endpoints answer CORS like Google.

use keepsake_tests::emulator_client::{
    MARIA, assert_google_error, config, get_pair, parse_pairs, start,
};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn api_calls_need_a_valid_bearer_token() {
    let emu = start(config()).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    for call in [
        emu.http.get(emu.api("/sessions/abc")),
        emu.http.delete(emu.api("/sessions/abc")),
        emu.http.get(emu.api("/mediaItems?sessionId=abc")),
    ] {
        let res = call.bearer_auth("ya29.not-a-token").send().await.unwrap();
        assert_google_error(res, 401, "UNAUTHENTICATED").await;
    }
    let res = emu
        .http
        .get(emu.api("/sessions/abc"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_token_without_the_picker_scope_is_permission_denied() {
    let emu = start(config()).await;
    let client = emu.emulator.config().client_id.clone();
    let redirect = emu.redirect_uri();
    let page = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", &redirect),
            ("response_type", "token"),
            ("scope", "openid email"),
        ])
        .await
        .text()
        .await
        .unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "scope"), Some("openid email"));
    let res = emu
        .create(get_pair(&pairs, "access_token").unwrap(), json!({}))
        .await;
    assert_google_error(res, 403, "PERMISSION_DENIED").await;
}

#[tokio::test]
async fn json_endpoints_answer_cors_like_google() {
    let emu = start(config()).await;
    let origin = "http://localhost:5173";
    let preflight = emu
        .http
        .request(reqwest::Method::OPTIONS, emu.api("/sessions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    // Errors carry the header too, so a browser can read the status.
    let res = emu
        .http
        .get(emu.api("/sessions/x"))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .header("origin", origin)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
    // Only the headers Google exposes to a page's script (PICKER-API.md §1): not
    // `Retry-After`, so a browser client cannot honour it and must back off alone.
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    assert_eq!(
        exposed,
        [
            "vary",
            "content-encoding",
            "date",
            "server",
            "content-length"
        ]
    );
}
