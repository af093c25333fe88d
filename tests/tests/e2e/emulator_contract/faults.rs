//! The fault knobs: server errors and rate limits answer Google's errors, fault
//! sequences repeat for a seed, cut and slow bodies, and sessions that expire early.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use emulator::{EmulatorConfig, FaultConfig};
use keepsake_tests::emulator_client::{Emu, MARIA, assert_google_error, config, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An emulator with `faults` and a signed-in token for Maria. Faults never touch
/// OAuth or the picker page; the token is minted directly so setup needs no API call.
async fn faulty(faults: FaultConfig) -> (Emu, String) {
    let emu = start(EmulatorConfig {
        faults,
        max_open_sessions: 1000,
        ..config()
    })
    .await;
    let token = emu.emulator.issue_token(MARIA).unwrap();
    (emu, token)
}

#[tokio::test]
async fn server_error_and_rate_limit_faults_answer_googles_errors() {
    let (emu, token) = faulty(FaultConfig {
        server_error_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let res = emu.create(&token, json!({})).await;
        let code = res.status().as_u16();
        let status = if code == 500 {
            "INTERNAL"
        } else {
            "UNAVAILABLE"
        };
        assert_google_error(res, code, status).await;
        seen.insert(code);
    }
    assert_eq!(seen, HashSet::from([500, 503]));

    let (emu, token) = faulty(FaultConfig {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..FaultConfig::default()
    })
    .await;
    let res = emu.create(&token, json!({})).await;
    assert_eq!(res.headers()["retry-after"], "7");
    assert_google_error(res, 429, "RESOURCE_EXHAUSTED").await;
}

#[tokio::test]
async fn fault_sequences_repeat_for_a_seed() {
    let faults = FaultConfig {
        server_error_rate: 0.3,
        rate_limit_rate: 0.2,
        retry_after_secs: 1,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (emu, token) = faulty(faults.clone()).await;
        let mut codes = Vec::new();
        for _ in 0..40 {
            codes.push(emu.create(&token, json!({})).await.status().as_u16());
        }
        runs.push(codes);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|&c| c >= 500) && runs[0].contains(&429));
}

/// Picks two items on a fault-free path: faults never touch OAuth or the picker page,
/// and API faults are drawn per request, so retry until the list succeeds.
async fn pick_under_faults(emu: &Emu, token: &str) -> Vec<String> {
    let mut session = None;
    for _ in 0..50 {
        let res = emu.create(token, json!({})).await;
        if res.status() == StatusCode::OK {
            session = Some(res.json::<Value>().await.unwrap());
            break;
        }
    }
    let session = session.expect("a create got through");
    let uri = session["pickerUri"].as_str().unwrap();
    let ids = emu.picker_items(uri).await;
    assert_eq!(emu.done(uri, &ids[..2]).await.status(), StatusCode::OK);
    let id = session["id"].as_str().unwrap();
    for _ in 0..50 {
        let res = emu.list(token, &[("sessionId", id)]).await;
        if res.status() == StatusCode::OK {
            let page: Value = res.json().await.unwrap();
            return page["mediaItems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["mediaFile"]["baseUrl"].as_str().unwrap().to_owned())
                .collect();
        }
    }
    panic!("no listing got through");
}

#[tokio::test]
async fn cut_bodies_end_before_content_length() {
    let (emu, token) = faulty(FaultConfig {
        cut_body_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let urls = pick_under_faults(&emu, &token).await;
    let res = emu
        .http
        .get(format!("{}=d", urls[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let declared: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 0);
    assert!(
        res.bytes().await.is_err(),
        "the body is cut before its Content-Length"
    );
}

#[tokio::test]
async fn slow_bodies_arrive_whole_but_slowly() {
    let speed = 100 * 1024;
    let (emu, token) = faulty(FaultConfig {
        slow_body_rate: 1.0,
        slow_body_bytes_per_sec: speed,
        ..FaultConfig::default()
    })
    .await;
    let urls = pick_under_faults(&emu, &token).await;
    let started = Instant::now();
    let res = emu
        .http
        .get(format!("{}=d", urls[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let declared: u64 = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, declared);
    let minimum = Duration::from_secs_f64(declared as f64 / speed as f64 * 0.9);
    assert!(
        started.elapsed() >= minimum,
        "{declared} bytes took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn some_sessions_expire_early() {
    let (emu, token) = faulty(FaultConfig {
        early_expiry_rate: 1.0,
        early_expiry_after: Duration::from_secs(30),
        ..FaultConfig::default()
    })
    .await;
    let s = emu.create_ok(&token, json!({})).await;
    let expire: jiff::Timestamp = s["expireTime"].as_str().unwrap().parse().unwrap();
    let left = expire.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((20..=31).contains(&left), "{left}");
    emu.emulator.advance_clock(Duration::from_secs(31));
    assert_google_error(
        emu.get_session(&token, s["id"].as_str().unwrap()).await,
        404,
        "NOT_FOUND",
    )
    .await;
}
