//! `sessions.create` / `get` / `delete`: the session's documented shape, body and
//! query validation, idempotent `requestId`, the open-session limit, ownership,
//! `pollingConfig` and expiry.

use std::time::Duration;

use emulator::EmulatorConfig;
use keepsake_tests::emulator_client::{
    MARIA, TOMAS, assert_google_error, config, duration_secs, query, start,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn created_session_has_the_documented_shape() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let before = jiff::Timestamp::now();
    let s = emu.create_ok(&token, json!({})).await;
    let obj = s.as_object().unwrap();
    for key in [
        "id",
        "pickerUri",
        "pollingConfig",
        "expireTime",
        "pickingConfig",
        "mediaItemsSet",
    ] {
        assert!(obj.contains_key(key), "{key} missing in {s}");
    }
    assert!(
        s["pickerUri"]
            .as_str()
            .unwrap()
            .starts_with(&emu.url("/emulator/picker-ui/"))
    );
    assert_eq!(s["mediaItemsSet"], json!(false));
    // int64 as a JSON string, default 2000.
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("2000"));
    assert_eq!(duration_secs(&s["pollingConfig"]["pollInterval"]), 1.5);
    let timeout = duration_secs(&s["pollingConfig"]["timeoutIn"]);
    assert!(timeout > 1790.0 && timeout <= 1800.0, "{timeout}");
    let expire: jiff::Timestamp = s["expireTime"].as_str().unwrap().parse().unwrap();
    let lifetime = expire.duration_since(before).as_secs();
    assert!((3590..=3610).contains(&lifetime), "{lifetime}");
    // sessions.get answers the same session.
    let got: Value = emu
        .get_session(&token, s["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], s["id"]);
    assert_eq!(got["pickerUri"], s["pickerUri"]);
}

#[tokio::test]
async fn create_accepts_an_empty_body_and_max_item_count_as_string_or_number() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": "7"}}))
        .await;
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("7"));
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": 9}}))
        .await;
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("9"));
}

#[tokio::test]
async fn create_rejects_bad_bodies_with_invalid_argument() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    for body in [
        json!({"pickingConfig": {"maxItemCount": "-1"}}),
        json!({"pickingConfig": {"maxItemCount": "2001"}}),
        json!({"pickingConfig": {"maxItemCount": "lots"}}),
        json!({"pickingConfig": {"colour": 1}}),
        json!({"colour": "blue"}),
        json!([1, 2]),
    ] {
        let res = emu.create(&token, body.clone()).await;
        assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    }
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
}

/// Google's format rule for `requestId` is 8-4-4-4-12 hex digits; the original
/// tool's ids are random hex in that shape (any version nibble), and work.
#[tokio::test]
async fn request_id_is_any_uuid_shaped_hex_and_makes_create_idempotent() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    for bad in [
        "abc",
        "3f2504e04f8941d39a0c0305e82c3301",
        "3f2504e0-4f89-41d3-9a0c-0305e82c330g",
    ] {
        let res = emu
            .http
            .post(format!(
                "{}?{}",
                emu.api("/sessions"),
                query(&[("requestId", bad)])
            ))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    }
    let good = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    let url = format!("{}?requestId={good}", emu.api("/sessions"));
    let first: Value = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], second["id"]);
    // Version 1, variant 0 and a made-up version: each creates a session.
    for original_tool_id in [
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "3f2504e0-4f89-41d3-7a0c-0305e82c3301",
        "c0ffee00-dead-beef-cafe-0123456789ab",
    ] {
        let res = emu
            .http
            .post(format!(
                "{}?requestId={original_tool_id}",
                emu.api("/sessions")
            ))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{original_tool_id}");
        let session: Value = res.json().await.unwrap();
        assert!(session["id"].is_string(), "{session}");
    }
}

#[tokio::test]
async fn unknown_query_parameters_are_invalid_argument() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(format!("{}?colour=blue", emu.api("/sessions")))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    let res = emu
        .list(&token, &[("sessionId", "x"), ("page_size", "5")])
        .await;
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
}

#[tokio::test]
async fn too_many_open_sessions_is_resource_exhausted() {
    let emu = start(EmulatorConfig {
        max_open_sessions: 2,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let first = emu.create_ok(&token, json!({})).await;
    emu.create_ok(&token, json!({})).await;
    let res = emu.create(&token, json!({})).await;
    assert_google_error(res, 429, "RESOURCE_EXHAUSTED").await;
    // Another account has its own allowance.
    let other = emu.sign_in(TOMAS).await;
    emu.create_ok(&other, json!({})).await;
    // Deleting one frees a place.
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{}", first["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    emu.create_ok(&token, json!({})).await;
}

#[tokio::test]
async fn delete_answers_empty_object_and_ends_the_session() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({}));
    assert_google_error(emu.get_session(&token, id).await, 404, "NOT_FOUND").await;
    let picker = emu
        .http
        .get(s["pickerUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(picker.status(), StatusCode::GONE);
    assert!(
        picker
            .text()
            .await
            .unwrap()
            .contains("This link has expired")
    );
}

#[tokio::test]
async fn another_accounts_or_unknown_session_is_not_found() {
    let emu = start(config()).await;
    let maria = emu.sign_in(MARIA).await;
    let tomas = emu.sign_in(TOMAS).await;
    let (id, _) = emu.picked_session(&maria, Some(1)).await;
    assert_google_error(emu.get_session(&tomas, &id).await, 404, "NOT_FOUND").await;
    assert_google_error(
        emu.list(&tomas, &[("sessionId", &id)]).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{id}")))
        .bearer_auth(&tomas)
        .send()
        .await
        .unwrap();
    assert_google_error(res, 404, "NOT_FOUND").await;
    assert_google_error(
        emu.get_session(&maria, "no-such-session").await,
        404,
        "NOT_FOUND",
    )
    .await;
    // Still Maria's.
    assert_eq!(emu.get_session(&maria, &id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn there_is_no_session_media_items_path() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let res = emu
        .http
        .get(emu.api(&format!("/sessions/{id}/mediaItems")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = emu
        .http
        .put(emu.api("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn polling_config_counts_down_then_disappears_once_items_are_set() {
    let emu = start(EmulatorConfig {
        picking_timeout: Duration::from_secs(300),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap().to_owned();
    let first = duration_secs(&s["pollingConfig"]["timeoutIn"]);
    emu.emulator.advance_clock(Duration::from_secs(100));
    let later: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    let second = duration_secs(&later["pollingConfig"]["timeoutIn"]);
    assert!(
        second < first - 99.0 && second > first - 101.0,
        "{first} → {second}"
    );
    // Once the picking time is over: timeoutIn 0, the picker link is dead.
    emu.emulator.advance_clock(Duration::from_secs(201));
    let over: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    assert_eq!(over["pollingConfig"]["timeoutIn"], json!("0s"));
    assert_eq!(over["mediaItemsSet"], json!(false));
    let page = emu
        .http
        .get(s["pickerUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);

    let (id, _) = emu.picked_session(&token, Some(2)).await;
    let done: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    assert_eq!(done["mediaItemsSet"], json!(true));
    assert!(done.get("pollingConfig").is_none(), "{done}");
}

#[tokio::test]
async fn expired_sessions_are_not_found_and_their_media_forbidden() {
    let emu = start(EmulatorConfig {
        session_lifetime: Duration::from_secs(600),
        picking_timeout: Duration::from_secs(300),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(2)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base_url = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    emu.emulator.advance_clock(Duration::from_secs(601));
    assert_google_error(emu.get_session(&token, &id).await, 404, "NOT_FOUND").await;
    assert_google_error(
        emu.list(&token, &[("sessionId", &id)]).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let bytes = emu
        .http
        .get(format!("{base_url}=w64-h64"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bytes.status(), StatusCode::FORBIDDEN);
}

/// Whether `s` is `digits(.ddd|.dddddd|.ddddddddd)?` followed by `end`.
fn google_decimal(s: &str, end: &str) -> bool {
    let Some(number) = s.strip_suffix(end) else {
        return false;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && (number.len() == whole.len() || [3, 6, 9].contains(&fraction.len()))
}

/// Google's JSON mapping writes durations as decimal seconds and timestamps in UTC
/// with `Z`, each with 0, 3, 6 or 9 fraction digits; `maxItemCount` is an int64 as
/// a string.
#[tokio::test]
async fn durations_and_timestamps_are_written_as_google_writes_them() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let polling = &s["pollingConfig"];
    for field in ["pollInterval", "timeoutIn"] {
        let value = polling[field].as_str().unwrap();
        assert!(google_decimal(value, "s"), "{field}: {value}");
    }
    let expire = s["expireTime"].as_str().unwrap();
    let (date_time, seconds) = expire.split_at(17);
    assert!(
        date_time.len() == 17 && date_time.as_bytes()[10] == b'T',
        "{expire}"
    );
    assert!(google_decimal(seconds, "Z"), "expireTime: {expire}");
    expire.parse::<jiff::Timestamp>().unwrap();
    assert!(s["pickingConfig"]["maxItemCount"].is_string(), "{s}");
    assert!(google_decimal("1799.500s", "s") && !google_decimal("1799.5s", "s"));
}

/// Google honours the token as a query parameter too, under both of its names
/// (its discovery documents list `access_token` and `oauth_token`).
#[tokio::test]
async fn the_token_may_come_as_access_token_or_oauth_token() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap();
    for name in ["access_token", "oauth_token"] {
        let res = emu
            .http
            .get(format!(
                "{}?{}",
                emu.api(&format!("/sessions/{id}")),
                query(&[(name, &token)])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
}

/// Google's client libraries build their calls from the discovery document: it
/// is served at the API root, names this origin's root, and knows only v1.
#[tokio::test]
async fn the_discovery_document_is_served_for_v1_with_this_origins_root() {
    let emu = start(config()).await;
    let url = emu.url(emulator::DISCOVERY_PATH);
    let doc: Value = emu
        .http
        .get(format!("{url}?version=v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["kind"], "discovery#restDescription");
    assert_eq!(doc["name"], "photospicker");
    let root = doc["rootUrl"].as_str().unwrap();
    assert_eq!(format!("{root}v1"), emu.api(""), "{doc:#}");
    assert_eq!(
        doc["resources"]["sessions"]["methods"]["create"]["path"],
        "v1/sessions"
    );
    let v2 = emu
        .http
        .get(format!("{url}?version=v2"))
        .send()
        .await
        .unwrap();
    assert_google_error(v2, 404, "NOT_FOUND").await;
}
