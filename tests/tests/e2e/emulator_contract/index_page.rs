//! The emulator's index page (`GET /emulator/`) and its endpoints, which follow
//! the request's `Host`.

use keepsake_tests::emulator_client::{MARIA, SCOPE, config, start};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

#[tokio::test]
async fn index_page_and_endpoints_describe_the_emulator() {
    let emu = start(config()).await;
    let res = emu.http.get(emu.url("/emulator/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(MARIA));
    let ep = emu.emulator.endpoints(&emu.origin);
    assert_eq!(ep.picker_api, emu.api(""));
    assert_eq!(ep.scope, SCOPE);
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.test:1234"));
    // Absolute URLs follow the Host header.
    let token = emu.sign_in(MARIA).await;
    let s: Value = emu
        .http
        .post(emu.api("/sessions"))
        .headers(headers)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        s["pickerUri"]
            .as_str()
            .unwrap()
            .starts_with("http://example.test:1234/emulator/picker-ui/")
    );
}
