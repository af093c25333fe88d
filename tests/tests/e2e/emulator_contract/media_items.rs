//! `mediaItems.list`: page sizes and paging, empty pages that still have a next
//! page, and every listed item's bytes matching its metadata.

use std::collections::HashSet;

use emulator::EmulatorConfig;
use keepsake_tests::emulator_client::{
    MARIA, assert_google_error, config, image_size, kind_of, start,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn page_size_rules_and_paging() {
    let emu = start(EmulatorConfig {
        extra_photos: 200,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, None).await;
    assert!(picked.len() > 200, "{} picked", picked.len());

    // Absent or 0: at most 50.
    for params in [
        vec![("sessionId", id.as_str())],
        vec![("sessionId", id.as_str()), ("pageSize", "0")],
    ] {
        let page: Value = emu.list(&token, &params).await.json().await.unwrap();
        let n = page["mediaItems"].as_array().unwrap().len();
        assert!(n <= 50 && n > 0, "{n}");
        assert!(page["nextPageToken"].is_string());
    }
    // Above 100 is treated as 100: every page ≤ 100, and some page holds exactly 100.
    let mut sizes = Vec::new();
    let mut token_param: Option<String> = None;
    loop {
        let mut params = vec![("sessionId", id.as_str()), ("pageSize", "1000")];
        if let Some(t) = &token_param {
            params.push(("pageToken", t));
        }
        let page: Value = emu.list(&token, &params).await.json().await.unwrap();
        sizes.push(page["mediaItems"].as_array().map_or(0, |a| a.len()));
        match page["nextPageToken"].as_str() {
            Some(t) => token_param = Some(t.to_owned()),
            None => break,
        }
    }
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    assert!(sizes.contains(&100), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), picked.len());
    // Negative or not a number: INVALID_ARGUMENT.
    for bad in ["-1", "ten", "1.5"] {
        assert_google_error(
            emu.list(&token, &[("sessionId", &id), ("pageSize", bad)])
                .await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
    }
    // A forged page token is INVALID_ARGUMENT; a missing sessionId too.
    assert_google_error(
        emu.list(&token, &[("sessionId", &id), ("pageToken", "forged")])
            .await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    assert_google_error(emu.list(&token, &[]).await, 400, "INVALID_ARGUMENT").await;

    // Small pages: every item exactly once, in order, last page without a token.
    let all = emu.list_all(&token, &id, Some("7")).await;
    let ids: Vec<String> = all
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, picked);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
}

#[tokio::test]
async fn a_page_may_be_empty_and_still_have_a_next_page() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, Some(3)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id), ("pageSize", "1")])
        .await
        .json()
        .await
        .unwrap();
    // Clients must follow nextPageToken, not stop on a short page.
    assert!(page["mediaItems"].as_array().is_none_or(|a| a.len() <= 1));
    assert!(page["nextPageToken"].is_string());
    let all = emu.list_all(&token, &id, Some("1")).await;
    assert_eq!(all.len(), picked.len());
}

#[tokio::test]
async fn every_item_downloads_and_matches_its_metadata() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    assert_eq!(items.len(), picked.len());
    let mut seen_processing = false;
    let mut seen_heif_jpeg = false;
    let mut seen_zero_mvhd = false;
    for item in &items {
        let file = &item["mediaFile"];
        let meta = &file["mediaFileMetadata"];
        let base = file["baseUrl"].as_str().unwrap();
        let create: jiff::Timestamp = item["createTime"].as_str().unwrap().parse().unwrap();
        assert!(
            item["createTime"].as_str().unwrap().ends_with('Z'),
            "UTC, RFC 3339"
        );
        let name = file["filename"].as_str().unwrap();
        let mime = file["mimeType"].as_str().unwrap();
        match item["type"].as_str().unwrap() {
            "PHOTO" => {
                let res = emu
                    .http
                    .get(format!("{base}=d"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{name}");
                assert!(res.headers().get("access-control-allow-origin").is_none());
                let bytes = res.bytes().await.unwrap();
                let kind = kind_of(&bytes);
                let expected = match mime {
                    "image/jpeg" => "jpeg",
                    // Google's HEIC arrives as JPEG bytes: the trap to sniff.
                    "image/heif" => {
                        seen_heif_jpeg = true;
                        assert!(name.to_ascii_lowercase().ends_with(".heic"));
                        "jpeg"
                    }
                    "image/png" => "png",
                    "image/webp" => "webp",
                    other => panic!("unexpected mimeType {other}"),
                };
                assert_eq!(kind, expected, "{name}");
                let (w, h) = image_size(&bytes).expect("readable size");
                assert_eq!(json!(w), meta["width"], "{name}");
                assert_eq!(json!(h), meta["height"], "{name}");
                if let Some(make) = meta["cameraMake"].as_str() {
                    assert!(
                        bytes.windows(make.len()).any(|win| win == make.as_bytes()),
                        "{name}: EXIF carries {make}"
                    );
                }
            }
            "VIDEO" => {
                assert_eq!(mime, "video/mp4");
                let status = meta["videoMetadata"]["processingStatus"].as_str().unwrap();
                assert!(meta["videoMetadata"]["fps"].as_f64().unwrap() > 20.0);
                let res = emu.get_media(&format!("{base}=dv"), &token).await;
                if status == "PROCESSING" {
                    seen_processing = true;
                    assert!(!res.status().is_success(), "=dv refused while PROCESSING");
                    continue;
                }
                assert_eq!(status, "READY");
                assert_eq!(res.status(), StatusCode::OK, "{name}");
                let length: usize = res.headers()["content-length"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let bytes = res.bytes().await.unwrap();
                assert_eq!(bytes.len(), length);
                assert_eq!(kind_of(&bytes), "mp4");
                let at = bytes.windows(4).position(|w| w == b"mvhd").unwrap();
                let mac = u64::from(u32::from_be_bytes(
                    bytes[at + 8..at + 12].try_into().unwrap(),
                ));
                if mac == 0 {
                    seen_zero_mvhd = true;
                } else {
                    assert_eq!(
                        mac as i64 - 2_082_844_800,
                        create.as_second(),
                        "{name}: mvhd date is createTime"
                    );
                }
                // Size suffixes give a still.
                let still = emu
                    .http
                    .get(format!("{base}=w128-h128"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(kind_of(&still.bytes().await.unwrap()), "jpeg");
            }
            other => panic!("unexpected type {other}"),
        }
    }
    assert!(seen_processing && seen_heif_jpeg && seen_zero_mvhd);
}

/// `createTime` is not promised (PICKER-API.md §3): with the fault on, items are
/// listed without it, the same items on every listing.
#[tokio::test]
async fn items_may_come_without_create_time_the_same_on_every_listing() {
    let mut config = config();
    config.faults.no_create_time_rate = 0.5;
    let emu = start(config).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let undated = || async {
        let page: Value = emu
            .list(&token, &[("sessionId", &id), ("pageSize", "100")])
            .await
            .json()
            .await
            .unwrap();
        page["mediaItems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item.get("createTime").is_none())
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let first = undated().await;
    assert!(!first.is_empty(), "some items come without createTime");
    assert_eq!(undated().await, first);
}
