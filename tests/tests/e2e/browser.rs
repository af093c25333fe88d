//! Browser end-to-end test: the real built app (release `dist/`) served by the
//! real `helper serve --demo` on port 0, driven in headless Chromium through
//! ChromeDriver: sign in at the emulator's consent page, pick photos in its picker
//! page, let the app download them through `/api/media`, fix them in WASM and
//! upload them, then download the batch's zip and check every photo in it.
//!
//! Screenshots of every step land in `target/e2e-screenshots/`.

use std::collections::BTreeSet;
use std::io::Read;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use keepsake_tests::{
    BROWSER_STEP, Browser, HelperProcess, Screenshots, dist_dir, eventually, exiftool_json,
    new_window, skip_or_fail, walk_files, which,
};

/// The built app served by a demo helper, and a browser to drive it; `None` (after
/// saying why) when the app is not built or no browser is installed.
async fn start(screenshots: &str) -> Option<(Browser, HelperProcess, Screenshots)> {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return None;
    };
    let browser = Browser::start().await?;
    let helper = HelperProcess::start_demo(Some(&dist), &[]).unwrap();
    Some((browser, helper, Screenshots::new(screenshots)))
}

/// How many photos the helper has written into its library folder (not its index).
fn saved_photos(helper: &HelperProcess) -> usize {
    walk_files(helper.library.path())
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".keepsake")
        })
        .count()
}

pub(crate) async fn css(client: &Client, selector: &str) -> Element {
    client
        .wait()
        .at_most(BROWSER_STEP)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|err| panic!("no {selector} within {BROWSER_STEP:?}: {err}"))
}

/// Waits until `selector` matches `count` elements, and returns them.
async fn wait_count(client: &Client, selector: &str, count: usize) -> Vec<Element> {
    eventually(&format!("{count} × {selector}"), || async {
        client
            .find_all(Locator::Css(selector))
            .await
            .is_ok_and(|found| found.len() == count)
    })
    .await;
    client.find_all(Locator::Css(selector)).await.unwrap()
}

/// From the app's sign-in card through the emulator's consent page (first
/// account, Allow) back to the signed-in app.
pub(crate) async fn sign_in(client: &Client, shots: &mut Screenshots) {
    let button = css(client, "[data-testid=sign-in]:not([disabled])").await;
    shots.take(client, "sign-in").await;
    button.click().await.unwrap();
    let account = css(client, "[data-testid=consent-account]").await;
    shots.take(client, "consent").await;
    account.click().await.unwrap();
    css(client, "[data-testid=consent-allow]")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=signed-in]").await;
}

/// Opens the picker from the app, ticks the first `count` tiles each selector
/// matches, presses Done, waits for the tab to close, and returns the ticked ids
/// (one set per selector).
pub(crate) async fn pick(
    client: &Client,
    shots: &mut Screenshots,
    wanted: &[(&str, usize)],
) -> Vec<BTreeSet<String>> {
    css(client, "[data-testid=pick-photos]")
        .await
        .click()
        .await
        .unwrap();
    let open_picker = css(client, "[data-testid=open-picker]").await;
    shots.take(client, "session-open").await;
    // The picker link as a QR code, for a phone (drawn in the page, not fetched).
    css(client, "[data-testid=phone-picking] summary")
        .await
        .click()
        .await
        .unwrap();
    let qr = css(client, "[data-testid=picker-qr] svg").await;
    assert!(qr.is_displayed().await.unwrap(), "the QR code shows");
    shots
        .take_at(client, "[data-testid=phone-picking]", "picker-qr")
        .await;
    let app_window = client.window().await.unwrap();
    open_picker.click().await.unwrap();
    let picker_window = new_window(client, &app_window).await;
    client.switch_to_window(picker_window).await.unwrap();
    css(client, "[data-testid=picker-item]").await;
    let mut picked = Vec::new();
    for (selector, count) in wanted {
        let tiles = client.find_all(Locator::Css(selector)).await.unwrap();
        assert!(
            tiles.len() >= *count,
            "fewer than {count} tiles match {selector}"
        );
        let mut ids = BTreeSet::new();
        for tile in tiles.iter().take(*count) {
            ids.insert(tile.attr("data-item-id").await.unwrap().unwrap());
            tile.click().await.unwrap();
        }
        picked.push(ids);
    }
    shots.take(client, "picker-ticked").await;
    css(client, "[data-testid=picker-done]:not([disabled])")
        .await
        .click()
        .await
        .unwrap();
    eventually("the picker tab to close itself", || async {
        client.windows().await.is_ok_and(|w| w.len() == 1)
    })
    .await;
    client.switch_to_window(app_window).await.unwrap();
    picked
}

/// The ids of the app's tiles in `stage`.
pub(crate) async fn tiles_in(client: &Client, stage: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let selector = format!("[data-testid=item][data-stage={stage}]");
    for tile in client.find_all(Locator::Css(&selector)).await.unwrap() {
        ids.insert(tile.attr("data-item-id").await.unwrap().unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_sign_in_pick_fix_save_and_zip() {
    let Some((browser, helper, mut shots)) = start("demo-flow").await else {
        return;
    };
    let client = &browser.client;

    // 1-2. The app offers sign-in; the emulator's consent page signs in. Its
    // footer names the helper's version.
    client.goto(&helper.base_url).await.unwrap();
    let version = css(client, "[data-testid=version]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        version.contains(&format!("Keepsake {} (", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    sign_in(client, &mut shots).await;

    // 3. Set an Artist; pick three photos in the picker tab, which closes itself.
    let artist = css(client, "[data-testid=artist]").await;
    artist.clear().await.unwrap();
    artist.send_keys("Ada Lovelace\t").await.unwrap();
    shots.take(client, "signed-in").await;
    let picked = pick(
        client,
        &mut shots,
        &[("[data-testid=picker-item]:not(:has(.vid))", 3)],
    )
    .await
    .remove(0);

    // 4. The app notices, lists, downloads, fixes and saves.
    let zip_link = css(client, "[data-testid=download-zip]").await;
    let tiles = wait_count(client, "[data-testid=item][data-stage=saved]", picked.len()).await;
    assert_eq!(
        tiles_in(client, "saved").await,
        picked,
        "the app saved exactly the picked items"
    );
    tiles[0].click().await.unwrap();
    let report = css(client, "[data-testid=item-report]").await;
    let report_text = report.text().await.unwrap();
    assert!(
        report_text.contains("Artist") && report_text.contains("Ada Lovelace"),
        "the before/after table shows the new Artist: {report_text}"
    );
    shots.take(client, "results").await;
    shots
        .take_at(client, "[data-testid=item-report]", "item-report")
        .await;

    // 5. The zip holds the picked photos, fixed.
    let href = zip_link.prop("href").await.unwrap().unwrap();
    helper::media_proxy::install_crypto_provider();
    let response = reqwest::get(&href).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(
        archive.len(),
        picked.len(),
        "one zip entry per picked photo"
    );
    let unpacked = tempfile::tempdir().unwrap();
    let exiftool = which("exiftool");
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let meta = metafix::read(&data).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(meta.software, None, "{name} still has a Software tag");
        assert_eq!(meta.artist.as_deref(), Some("Ada Lovelace"), "{name}");
        if exiftool.is_some() {
            let path = unpacked.path().join(&name);
            std::fs::write(&path, &data).unwrap();
            let tags = exiftool_json(&path).unwrap();
            assert!(tags.get("IFD0:Software").is_none(), "{name}: {tags}");
            assert_eq!(tags["IFD0:Artist"], "Ada Lovelace", "{name}");
        }
    }
    if exiftool.is_none() {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_EXIFTOOL",
            "exiftool is not installed: checked the zip with metafix only",
        );
    }

    // 6. The helper wrote the same files into its library folder.
    assert_eq!(saved_photos(&helper), picked.len());

    client.clone().close().await.unwrap();
}

/// A video still PROCESSING at Google cannot be downloaded: the run ends with it
/// failed, keeps the session for "Retry failed", and a reload (which loses the
/// in-memory token) resumes the same batch after a new sign-in without fetching
/// the saved photos again.
#[tokio::test(flavor = "multi_thread")]
async fn failed_items_can_be_retried_and_a_reload_resumes_the_run() {
    let Some((browser, helper, mut shots)) = start("retry-and-resume").await else {
        return;
    };
    let client = &browser.client;

    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let picked = pick(
        client,
        &mut shots,
        &[
            ("[data-testid=picker-item]:not(:has(.vid))", 2),
            ("[data-testid=picker-item][title*=PROCESSING]", 1),
        ],
    )
    .await;
    let (photos, video) = (&picked[0], &picked[1]);

    // The results group failures by reason, each with its own Retry.
    let group = css(client, "[data-testid=failure-group]").await;
    let text = group.text().await.unwrap();
    assert!(
        text.contains("1 ×") && text.contains("still processing"),
        "{text}"
    );
    assert_eq!(&tiles_in(client, "saved").await, photos);
    assert_eq!(&tiles_in(client, "failed").await, video);
    shots.take(client, "one-failed").await;

    // Retry lists the session again and tries the failed item once more.
    css(client, "[data-testid=retry-group]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the retry to finish", || async {
        client
            .find(Locator::Css("[data-testid=results]"))
            .await
            .is_ok()
    })
    .await;
    assert_eq!(&tiles_in(client, "failed").await, video);

    // A reload forgets the token; after signing in again the run resumes.
    client.refresh().await.unwrap();
    let notice = css(client, "[data-testid=notice]")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains("Sign in again"), "{notice}");
    sign_in(client, &mut shots).await;
    css(client, "[data-testid=retry-group]").await;
    shots.take(client, "resumed").await;
    assert_eq!(
        &tiles_in(client, "saved").await,
        photos,
        "saved photos are known, not fetched again"
    );
    assert_eq!(&tiles_in(client, "failed").await, video);
    css(client, "[data-testid=item][data-stage=failed]")
        .await
        .click()
        .await
        .unwrap();
    let why = css(client, "[data-testid=detail-error]")
        .await
        .text()
        .await
        .unwrap();
    assert!(why.contains("still processing"), "{why}");
    shots
        .take_at(client, "[data-testid=details]", "failure-details")
        .await;
    assert_eq!(saved_photos(&helper), photos.len());
    client.clone().close().await.unwrap();
}

/// A family's helper served over plain http to the network (not loopback): the
/// member sign-in says the passphrase crosses it readable; on loopback it does not.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_signing_in_over_plain_http_to_the_network_is_warned() {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let Some(address) = keepsake_tests::network_address() else {
        eprintln!("SKIPPED: this machine has no address but loopback");
        return;
    };
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("keepsake.toml");
    keepsake_tests::add_member(&config, "maria", "maria's long passphrase", "María Rivera")
        .unwrap();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let mut shots = Screenshots::new("plain-http-lan");
    let flags = ["--config", config.to_str().unwrap()];
    let lan = HelperProcess::start_demo_on(&format!("{address}:0"), Some(&dist), &flags).unwrap();
    client.goto(&lan.base_url).await.unwrap();
    let warning = css(client, "[data-testid=plain-http-warning]").await;
    assert!(
        warning.text().await.unwrap().contains("not encrypted"),
        "the warning says why"
    );
    shots.take(client, "member-sign-in").await;
    // And the app works there (nothing in it needs a secure context): the member
    // signs in and is offered Google's sign-in.
    css(client, "[data-testid=member-name]")
        .await
        .send_keys("maria")
        .await
        .unwrap();
    css(client, "[data-testid=member-passphrase]")
        .await
        .send_keys("maria's long passphrase")
        .await
        .unwrap();
    css(client, "[data-testid=member-sign-in]")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=sign-in]").await;
    shots.take(client, "signed-in").await;

    let local = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    client.goto(&local.base_url).await.unwrap();
    css(client, "[data-testid=member-name]").await;
    assert!(
        client
            .find_all(Locator::Css("[data-testid=plain-http-warning]"))
            .await
            .unwrap()
            .is_empty(),
        "no warning on loopback"
    );
    client.clone().close().await.unwrap();
}

/// A helper for real Google reached at a LAN IP address over https: Google would
/// refuse to sign in from that origin (an IP address cannot be registered), so the
/// app says so, and how to fix it, before the user tries. On loopback: nothing.
#[tokio::test(flavor = "multi_thread")]
async fn google_sign_in_from_an_address_google_refuses_is_explained_first() {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let Some(address) = keepsake_tests::network_address() else {
        eprintln!("SKIPPED: this machine has no address but loopback");
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    let made = std::process::Command::new(keepsake_tests::helper_binary().unwrap())
        .args([
            "tls",
            "self-signed",
            "--host",
            &address.to_string(),
            "--out",
        ])
        .arg(certs.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let mut shots = Screenshots::new("google-refused-origin");
    let google = [
        "--client-id",
        "1234-test.apps.googleusercontent.com",
        "--insecure-single-user",
    ];
    let tls = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let flags: Vec<&str> = google.iter().chain(&tls).copied().collect();
    let lan = HelperProcess::start_google(&format!("{address}:0"), Some(&dist), &flags).unwrap();
    assert!(lan.base_url.starts_with("https://"), "{}", lan.base_url);
    client.goto(&lan.base_url).await.unwrap();
    let warning = css(client, "[data-testid=origin-warning]").await;
    let text = warning.text().await.unwrap();
    assert!(
        text.contains("Google will refuse to sign in") && text.contains("IP address"),
        "{text}"
    );
    assert!(text.contains("SSH tunnel"), "it says how to fix it: {text}");
    shots.take(client, "warned").await;

    let local = HelperProcess::start_google("127.0.0.1:0", Some(&dist), &google).unwrap();
    client.goto(&local.base_url).await.unwrap();
    css(client, "[data-testid=sign-in]:not([disabled])").await;
    assert!(
        client
            .find_all(Locator::Css("[data-testid=origin-warning]"))
            .await
            .unwrap()
            .is_empty(),
        "no warning on loopback"
    );
    client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn family_member_signs_in_picks_saves_zips_and_signs_out() {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("keepsake.toml");
    keepsake_tests::add_member(&config, "maria", "maria's long passphrase", "María Rivera")
        .unwrap();
    keepsake_tests::add_member(&config, "tomas", "tomas's long passphrase", "Tomás Rivera")
        .unwrap();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let helper =
        HelperProcess::start_demo(Some(&dist), &["--config", config.to_str().unwrap()]).unwrap();
    let mut shots = Screenshots::new("family");
    let client = &browser.client;

    // 1. The helper asks for a member first; Google's sign-in is not offered yet.
    client.goto(&helper.base_url).await.unwrap();
    let name = css(client, "[data-testid=member-name]").await;
    assert!(
        client
            .find(Locator::Css("[data-testid=sign-in]"))
            .await
            .is_err()
    );
    shots.take(client, "member-sign-in").await;
    name.send_keys("maria").await.unwrap();
    let passphrase = css(client, "[data-testid=member-passphrase]").await;
    passphrase.send_keys("not her passphrase").await.unwrap();
    css(client, "[data-testid=member-sign-in]")
        .await
        .click()
        .await
        .unwrap();
    let notice = css(client, ".notice").await;
    eventually("the wrong passphrase to be refused", || async {
        notice
            .text()
            .await
            .is_ok_and(|t| t.contains("do not match"))
    })
    .await;
    shots.take(client, "member-sign-in-refused").await;
    passphrase.clear().await.unwrap();
    passphrase
        .send_keys("maria's long passphrase")
        .await
        .unwrap();
    css(client, "[data-testid=member-sign-in]")
        .await
        .click()
        .await
        .unwrap();
    let member = css(client, "[data-testid=member]").await;
    assert!(member.text().await.unwrap().contains("maria"));

    // 2. Then Google; her Artist is pre-filled from the helper's member defaults.
    sign_in(client, &mut shots).await;
    let artist = css(client, "[data-testid=artist]").await;
    assert_eq!(
        artist.prop("value").await.unwrap().as_deref(),
        Some("María Rivera")
    );
    shots.take(client, "member-signed-in").await;
    let picked = pick(
        client,
        &mut shots,
        &[("[data-testid=picker-item]:not(:has(.vid))", 2)],
    )
    .await
    .remove(0);
    let zip_link = css(client, "[data-testid=download-zip]").await;
    wait_count(client, "[data-testid=item][data-stage=saved]", picked.len()).await;
    shots.take(client, "member-saved").await;

    // 3. Her files are in her own folder, and the zip needs her session.
    let hers = walk_files(&helper.library.path().join("maria"));
    assert_eq!(hers.len(), picked.len(), "{hers:?}");
    let href = zip_link.prop("href").await.unwrap().unwrap();
    helper::media_proxy::install_crypto_provider();
    assert_eq!(
        reqwest::get(&href).await.unwrap().status(),
        401,
        "no cookie, no zip"
    );
    let session = client.get_named_cookie(api::SESSION_COOKIE).await.unwrap();
    let response = reqwest::Client::new()
        .get(&href)
        .header("cookie", format!("{}={}", session.name(), session.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(archive.len(), picked.len());
    for i in 0..archive.len() {
        let mut data = Vec::new();
        archive.by_index(i).unwrap().read_to_end(&mut data).unwrap();
        let meta = metafix::read(&data).unwrap();
        assert_eq!(meta.artist.as_deref(), Some("María Rivera"));
    }

    // 4. Her history lists the batch with a zip of its own.
    css(client, "[data-testid=history-toggle]")
        .await
        .click()
        .await
        .unwrap();
    wait_count(client, "[data-testid=history-file]", picked.len()).await;
    wait_count(client, "[data-testid=history-batch]", 1).await;
    shots
        .take_at(client, "[data-testid=history]", "history")
        .await;

    // 5. Signing out of the helper brings the member sign-in back.
    css(client, "[data-testid=member-sign-out]:not([disabled])")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=member-name]").await;
    shots.take(client, "member-signed-out").await;
    let stale = reqwest::Client::new()
        .get(format!("{}{}", helper.base_url, api::routes::HISTORY))
        .header("cookie", format!("{}={}", session.name(), session.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401, "the old session is over");
}

/// The helper binary copied alone into an empty folder serves the whole app (it
/// carries it: no `dist/` anywhere near it) and the demo works through it.
#[tokio::test(flavor = "multi_thread")]
async fn the_helper_alone_in_an_empty_folder_serves_the_app_it_carries() {
    if dist_dir().is_none() {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app, then the helper carries it",
        );
        return;
    }
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (helper, folder) = HelperProcess::start_demo_alone(&[]).unwrap();
    let names: Vec<String> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["helper"], "nothing but the binary in its folder");
    let client = &browser.client;
    let mut shots = Screenshots::new("helper-alone");
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let picked = pick(
        client,
        &mut shots,
        &[("[data-testid=picker-item]:not(:has(.vid))", 2)],
    )
    .await
    .remove(0);
    wait_count(client, "[data-testid=item][data-stage=saved]", picked.len()).await;
    assert_eq!(saved_photos(&helper), picked.len());
    shots.take(client, "saved").await;
}

/// Google's consent page lets the user untick the photos permission and still
/// press Allow. The token that comes back cannot list a pick: the app drops it,
/// says what happened, and offers sign-in again, which then works.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_without_the_photos_permission_asks_again() {
    let Some((browser, helper, mut shots)) = start("scope-withheld").await else {
        return;
    };
    let client = &browser.client;
    client.goto(&helper.base_url).await.unwrap();
    css(client, "[data-testid=sign-in]:not([disabled])")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=consent-account]")
        .await
        .click()
        .await
        .unwrap();
    let permission = css(client, "[data-testid=consent-scope]").await;
    permission.click().await.unwrap();
    assert_eq!(
        permission.prop("checked").await.unwrap().as_deref(),
        Some("false"),
        "the photos box is unticked"
    );
    shots.take(client, "consent-unticked").await;
    css(client, "[data-testid=consent-allow]")
        .await
        .click()
        .await
        .unwrap();
    let notice = css(client, "[data-testid=notice]").await;
    let text = notice.text().await.unwrap();
    assert!(
        text.contains("not allowed to see the photos you pick"),
        "{text}"
    );
    css(client, "[data-testid=sign-in]:not([disabled])").await;
    assert!(
        client
            .find(Locator::Css("[data-testid=signed-in]"))
            .await
            .is_err(),
        "not signed in with a token that cannot pick"
    );
    shots.take(client, "asked-again").await;
    sign_in(client, &mut shots).await;
}

/// The real `trunk serve` (the README's developer loop, run from the repository's
/// `Trunk.toml`) in front of a helper: sign in, pick, save and zip through it.
/// trunk's proxy sends `Host: 127.0.0.1` without the port, and follows redirects
/// itself unless told not to (`no_redirect`): then the emulator's 303 after consent
/// was fetched by trunk, the app's `index.html` handed to the browser in its place,
/// and the token fragment never arrived.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_signs_in_picks_saves_and_zips_through_the_real_trunk_serve() {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The helper registers trunk's :8081 origin by itself; this one's port is
    // free-picked, so it is registered as a developer's own port would be.
    let port = keepsake_tests::TrunkServe::reserve_port().unwrap();
    let origin = format!("http://127.0.0.1:{port}");
    let helper = HelperProcess::start_demo(
        Some(&dist),
        &[
            "--demo-redirect-uri",
            &format!("{origin}/"),
            "--trusted-origin",
            &origin,
        ],
    )
    .unwrap();
    let Some(proxy) = keepsake_tests::TrunkServe::start(port, &helper.base_url)
        .await
        .unwrap()
    else {
        skip_or_fail("KEEPSAKE_REQUIRE_BROWSER", "trunk is not installed");
        return;
    };
    let mut shots = Screenshots::new("trunk-serve");
    helper::media_proxy::install_crypto_provider();
    // The helper really is told a port-less host, as trunk does.
    let config: api::ClientConfig =
        reqwest::get(format!("{}{}", proxy.base_url, api::routes::CONFIG))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        config.oauth.auth_url.starts_with("http://127.0.0.1/"),
        "{}",
        config.oauth.auth_url
    );

    let client = &browser.client;
    client.goto(&proxy.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&proxy.base_url),
        "signed in and back on the proxied origin"
    );
    let picked = pick(
        client,
        &mut shots,
        &[("[data-testid=picker-item]:not(:has(.vid))", 2)],
    )
    .await
    .remove(0);
    let zip_link = css(client, "[data-testid=download-zip]").await;
    wait_count(client, "[data-testid=item][data-stage=saved]", picked.len()).await;
    assert_eq!(tiles_in(client, "saved").await, picked);
    assert_eq!(saved_photos(&helper), picked.len());
    shots.take(client, "saved-through-trunk").await;
    // The zip link is trunk's origin too, and trunk streams it through.
    let href = zip_link.prop("href").await.unwrap().unwrap();
    assert!(href.starts_with(&proxy.base_url), "{href}");
    let response = reqwest::get(&href).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(
        archive.len(),
        picked.len(),
        "one zip entry per picked photo"
    );
}
