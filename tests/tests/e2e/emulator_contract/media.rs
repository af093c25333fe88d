//! Media bytes: the bearer token is needed and no CORS headers are sent, size
//! suffixes scale and crop, `baseUrl`s expire, and large files stream with their
//! exact size (and ranges).

use std::time::Duration;

use emulator::{EmulatorConfig, VideoHost};
use keepsake_tests::emulator_client::{MARIA, TOMAS, config, image_size, kind_of, start};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn media_needs_the_bearer_token_and_sends_no_cors() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    // Shaped as Google's: https://lh3.googleusercontent.com/ppa/…
    assert!(base.starts_with(&emu.url("/ppa/")));
    let anonymous = emu
        .http
        .get(format!("{base}=d"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    let tomas = emu.sign_in(TOMAS).await;
    let foreign = emu
        .http
        .get(format!("{base}=d"))
        .bearer_auth(&tomas)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let ok = emu
        .http
        .get(format!("{base}=d"))
        .bearer_auth(&token)
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let cors: Vec<_> = ok
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "media sends no CORS headers: {cors:?}");
    // A tampered URL is not found; an unknown suffix is refused.
    let tampered = base.replace("/ppa/", "/ppa/00");
    let res = emu
        .http
        .get(format!("{tampered}=d"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = emu
        .http
        .get(format!("{base}=x"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn size_suffixes_scale_and_crop() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    let photo = items
        .iter()
        .find(|i| i["mediaFile"]["mimeType"] == "image/jpeg")
        .unwrap();
    let base = photo["mediaFile"]["baseUrl"].as_str().unwrap();
    let (w, h) = (
        photo["mediaFile"]["mediaFileMetadata"]["width"]
            .as_u64()
            .unwrap(),
        photo["mediaFile"]["mediaFileMetadata"]["height"]
            .as_u64()
            .unwrap(),
    );
    let fetch = |suffix: &str| {
        let url = format!("{base}{suffix}");
        let http = emu.http.clone();
        let token = token.clone();
        async move {
            let res = http.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "image/jpeg");
            image_size(&res.bytes().await.unwrap()).unwrap()
        }
    };
    let (fw, fh) = fetch("=w200-h200").await;
    assert!(fw <= 200 && fh <= 200 && (fw == 200 || fh == 200));
    let ratio = |a: u64, b: u64| a as f64 / b as f64;
    assert!((ratio(fw.into(), fh.into()) - ratio(w, h)).abs() < 0.02);
    assert_eq!(fetch("=w120-h80-c").await, (120, 80));
    // Never upscaled.
    let (bw, bh) = fetch("=w9000-h9000").await;
    assert_eq!((u64::from(bw), u64::from(bh)), (w, h));
}

#[tokio::test]
async fn base_urls_expire_after_their_lifetime() {
    let emu = start(EmulatorConfig {
        base_url_lifetime: Duration::from_secs(60),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = || {
        emu.http
            .get(format!("{base}=w32-h32"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    emu.emulator.advance_clock(Duration::from_secs(61));
    assert_eq!(get().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Listing again gives fresh URLs.
    let fresh: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let fresh_base = fresh["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap();
    assert_ne!(fresh_base, base);
    let res = emu
        .http
        .get(format!("{fresh_base}=w32-h32"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn large_files_stream_with_their_exact_size_from_a_range_honouring_host() {
    let size = 3 * 1024 * 1024 + 17;
    let emu = start(EmulatorConfig {
        large_file_count: 1,
        large_file_size: size,
        // The comparison host: `=dv` served from the baseUrl's own host.
        video_host: VideoHost::Same,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    let large = items
        .iter()
        .find(|i| i["mediaFile"]["filename"].as_str().unwrap().contains("_4K"))
        .expect("a large video");
    let res = emu
        .http
        .get(format!(
            "{}=dv",
            large["mediaFile"]["baseUrl"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], size.to_string().as_str());
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(kind_of(&bytes), "mp4");
    // A cut download resumes with Range, as against googleusercontent.com.
    let base = large["mediaFile"]["baseUrl"].as_str().unwrap();
    let from = size - 100_000;
    let res = emu
        .http
        .get(format!("{base}=dv"))
        .bearer_auth(&token)
        .header("range", format!("bytes={from}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes {from}-{}/{size}", size - 1).as_str()
    );
    let tail = res.bytes().await.unwrap();
    assert_eq!(&tail[..], &bytes[from as usize..]);
    let res = emu
        .http
        .get(format!("{base}=dv"))
        .bearer_auth(&token)
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

/// `=dv` as Google has been seen to answer it (PICKER-API.md §4): a redirect to
/// another host that needs no bearer and ignores `Range`.
#[tokio::test]
async fn videos_redirect_to_a_host_that_needs_no_bearer_and_ignores_range() {
    let size = 2 * 1024 * 1024 + 5;
    let emu = start(EmulatorConfig {
        large_file_count: 1,
        large_file_size: size,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    let base = items
        .iter()
        .find(|i| i["mediaFile"]["filename"].as_str().unwrap().contains("_4K"))
        .and_then(|i| i["mediaFile"]["baseUrl"].as_str())
        .expect("a large video")
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(format!("{base}=dv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let here = url::Url::parse(&base).unwrap();
    let there = url::Url::parse(&location).unwrap();
    assert_ne!(here.origin(), there.origin(), "another host: {location}");
    assert!(there.path().starts_with(emulator::VIDEO_PATH_PREFIX));
    // No bearer needed; Range ignored: the whole body, without Accept-Ranges.
    for range in [None, Some("bytes=100-")] {
        let mut request = no_redirects.get(&location);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{range:?}");
        assert!(res.headers().get("accept-ranges").is_none());
        assert_eq!(res.headers()["content-length"], size.to_string().as_str());
        let bytes = res.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(kind_of(&bytes), "mp4");
    }
    // Its URLs are signed like baseUrls: a tampered one is not found, and a baseUrl
    // token does not work there.
    let tampered = format!("{}0", location.trim_end_matches(|c: char| c != '.'));
    let res = no_redirects.get(&tampered).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let token_of_base = base.rsplit('/').next().unwrap();
    let res = no_redirects
        .get(format!(
            "{}{}{token_of_base}",
            there.origin().ascii_serialization(),
            emulator::VIDEO_PATH_PREFIX
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A client that follows the redirect (without the bearer, to the other host)
    // gets the video.
    let followed = emu.get_media(&format!("{base}=dv"), &token).await;
    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(followed.bytes().await.unwrap().len() as u64, size);
}
