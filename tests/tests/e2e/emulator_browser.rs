//! The emulator's pages in a real browser (headless Chromium via ChromeDriver),
//! driven only by their `data-testid`s, as outside checks drive them: the consent
//! page signs in the chosen account, the picker page enforces `maxItemCount` while
//! ticking, and `/autoclose` closes the picker window after Done.
//!
//! Skips when Chromium or ChromeDriver is missing, unless `KEEPSAKE_REQUIRE_BROWSER=1`.
//! Screenshots land in `target/e2e-screenshots/emulator/`.

use fantoccini::Locator;
use keepsake_tests::emulator_client::{SCOPE, config, get_pair, parse_pairs, query, start};
use keepsake_tests::{Browser, Screenshots, eventually, new_window};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn consent_and_picker_pages_work_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let mut shots = Screenshots::new("emulator");
    let emu = start(config()).await;
    let origin = &emu.origin;

    // Consent: pick the second account, Allow; the browser lands on the redirect
    // URI with Google's fragment.
    let ep = emu.emulator.endpoints(origin);
    let auth = format!(
        "{}?{}",
        ep.auth_url,
        query(&[
            ("client_id", ep.client_id.as_str()),
            ("redirect_uri", &emu.redirect_uri()),
            ("response_type", "token"),
            ("scope", SCOPE),
            ("state", "browser"),
        ])
    );
    client.goto(&auth).await.unwrap();
    let accounts = client
        .find_all(Locator::Css("[data-testid=consent-account]"))
        .await
        .unwrap();
    assert!(accounts.len() >= 3);
    let email = accounts[1].attr("data-email").await.unwrap().unwrap();
    accounts[1].click().await.unwrap();
    shots.take(client, "consent").await;
    client
        .find(Locator::Css("[data-testid=consent-allow]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the redirect with a token", || async {
        client
            .current_url()
            .await
            .is_ok_and(|url| url.as_str().contains("#access_token="))
    })
    .await;
    let landed = client.current_url().await.unwrap().to_string();
    let fragment = landed.split_once('#').unwrap().1;
    let pairs = parse_pairs(fragment);
    let token = get_pair(&pairs, "access_token").unwrap().to_owned();
    assert!(pairs.contains(&("state".to_owned(), "browser".to_owned())));

    // A session with maxItemCount 2, for the account chosen in the browser.
    let session: Value = emu
        .http
        .post(format!("{}/sessions", ep.picker_api))
        .bearer_auth(&token)
        .json(&json!({"pickingConfig": {"maxItemCount": "2"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let picker_uri = session["pickerUri"].as_str().unwrap().to_owned();

    // Open the picker as the app does (a new window), with /autoclose.
    client.goto(&format!("{origin}/emulator/")).await.unwrap();
    let first_window = client.window().await.unwrap();
    client
        .execute(
            "window.open(arguments[0], '_blank')",
            vec![json!(format!("{picker_uri}/autoclose"))],
        )
        .await
        .unwrap();
    let picker_window = new_window(client, &first_window).await;
    client.switch_to_window(picker_window).await.unwrap();
    eventually("the picker page", || async {
        client
            .find_all(Locator::Css("[data-testid=picker-item]"))
            .await
            .is_ok_and(|items| items.len() >= 10)
    })
    .await;
    let page_text = client.source().await.unwrap();
    assert!(
        page_text.contains(&email),
        "the picker shows the signed-in account"
    );

    let done = client
        .find(Locator::Css("[data-testid=picker-done]"))
        .await
        .unwrap();
    assert!(
        !done.is_enabled().await.unwrap(),
        "Done waits for a selection"
    );
    let items = client
        .find_all(Locator::Css("[data-testid=picker-item]"))
        .await
        .unwrap();
    items[0].click().await.unwrap();
    items[2].click().await.unwrap();
    // The limit is reached: the other boxes are disabled.
    let third_box = items[4]
        .find(Locator::Css("input[type=checkbox]"))
        .await
        .unwrap();
    assert!(!third_box.is_enabled().await.unwrap());
    let count = client
        .find(Locator::Css("[data-testid=picker-count]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(count.starts_with("2 selected"), "{count}");
    assert!(done.is_enabled().await.unwrap());
    shots.take(client, "picker").await;
    let ticked = [
        items[0].attr("data-item-id").await.unwrap().unwrap(),
        items[2].attr("data-item-id").await.unwrap().unwrap(),
    ];
    done.click().await.unwrap();

    // /autoclose: the picker window closes itself.
    eventually("the picker window to close", || async {
        client.windows().await.is_ok_and(|w| w.len() == 1)
    })
    .await;
    client.switch_to_window(first_window).await.unwrap();

    // The session now lists exactly what was ticked.
    let page: Value = emu
        .http
        .get(format!(
            "{}/mediaItems?sessionId={}",
            ep.picker_api,
            session["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = page["mediaItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ticked.iter().map(String::as_str).collect();
    expected.sort_unstable();
    let mut got = listed.clone();
    got.sort_unstable();
    assert_eq!(got, expected);

    // The used picker link now says it has expired.
    client.goto(&picker_uri).await.unwrap();
    client
        .find(Locator::Css("[data-testid=picker-expired]"))
        .await
        .unwrap();
    shots.take(client, "expired").await;
    client.clone().close().await.unwrap();
}
