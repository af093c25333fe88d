//! Browser end-to-end test: the real built app (release `dist/`) served by the
//! real `helper serve --demo` on port 0, driven in headless Chromium through
//! ChromeDriver: sign in at the emulator's consent page, pick photos in its picker
//! page, let the app download them through `/api/media`, fix them in WASM and
//! upload them, then download the batch's zip and check every photo in it.
//!
//! Screenshots of every step land in `target/e2e-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use keepsake_tests::{
    ChromeDriver, HelperProcess, chrome_capabilities, dist_dir, exiftool_json, skip_or_fail,
    target_dir, which,
};

const REQUIRE: &str = "KEEPSAKE_REQUIRE_BROWSER";
/// How long the app may take for a step (processing runs several downloads).
const STEP: Duration = Duration::from_secs(60);

struct Screenshots {
    dir: PathBuf,
    n: usize,
}

impl Screenshots {
    fn new(test: &str) -> Self {
        let dir = target_dir().join("e2e-screenshots").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Screenshots { dir, n: 0 }
    }

    async fn take(&mut self, client: &Client, step: &str) {
        self.n += 1;
        let png = client.screenshot().await.unwrap();
        std::fs::write(self.dir.join(format!("{:02}-{step}.png", self.n)), png).unwrap();
    }
}

async fn css(client: &Client, selector: &str) -> Element {
    client
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|err| panic!("no {selector} within {STEP:?}: {err}"))
}

/// Waits until `selector` matches `count` elements.
async fn wait_count(client: &Client, selector: &str, count: usize) -> Vec<Element> {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let found = client.find_all(Locator::Css(selector)).await.unwrap();
        if found.len() == count {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{selector}: {} elements, expected {count}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_sign_in_pick_fix_save_and_zip() {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            REQUIRE,
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let (Some(chromedriver), Some(_)) = (which("chromedriver"), which("chromium")) else {
        skip_or_fail(REQUIRE, "chromium and chromedriver are not installed");
        return;
    };

    let helper = HelperProcess::start_demo(Some(&dist), &[]).unwrap();
    let driver = ChromeDriver::start(&chromedriver).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(chrome_capabilities(profile.path(), downloads.path()))
        .connect(&driver.url)
        .await
        .expect("starting headless Chromium");
    let mut shots = Screenshots::new("demo-flow");

    // 1. The app loads and offers sign-in.
    client.goto(&helper.base_url).await.unwrap();
    let sign_in = css(&client, "[data-testid=sign-in]:not([disabled])").await;
    shots.take(&client, "app-start").await;
    sign_in.click().await.unwrap();

    // 2. The emulator's consent page: choose the first account, allow.
    let account = css(&client, "[data-testid=consent-account]").await;
    shots.take(&client, "consent").await;
    account.click().await.unwrap();
    css(&client, "[data-testid=consent-allow]")
        .await
        .click()
        .await
        .unwrap();

    // 3. Back in the app with a token; set an Artist, start a picking session.
    css(&client, "[data-testid=signed-in]").await;
    let artist = css(&client, "[data-testid=artist]").await;
    artist.clear().await.unwrap();
    artist.send_keys("Ada Lovelace\t").await.unwrap();
    shots.take(&client, "signed-in").await;
    css(&client, "[data-testid=pick-photos]")
        .await
        .click()
        .await
        .unwrap();
    let open_picker = css(&client, "[data-testid=open-picker]").await;
    shots.take(&client, "session-open").await;
    let app_window = client.window().await.unwrap();
    open_picker.click().await.unwrap();

    // 4. The picker opened in a new tab: tick three photos, press Done.
    let deadline = std::time::Instant::now() + STEP;
    let picker_window = loop {
        let windows = client.windows().await.unwrap();
        if let Some(w) = windows.into_iter().find(|w| *w != app_window) {
            break w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the picker tab never opened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client.switch_to_window(picker_window).await.unwrap();
    css(&client, "[data-testid=picker-item]").await;
    let photos = client
        .find_all(Locator::Css("[data-testid=picker-item]:not(:has(.vid))"))
        .await
        .unwrap();
    assert!(photos.len() >= 3, "the sample library has too few photos");
    let mut picked = BTreeSet::new();
    for tile in photos.iter().take(3) {
        picked.insert(tile.attr("data-item-id").await.unwrap().unwrap());
        tile.click().await.unwrap();
    }
    shots.take(&client, "picker-ticked").await;
    css(&client, "[data-testid=picker-done]:not([disabled])")
        .await
        .click()
        .await
        .unwrap();

    // 5. `/autoclose` closes the picker tab; the app notices, lists, processes.
    let deadline = std::time::Instant::now() + STEP;
    while client.windows().await.unwrap().len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the picker tab did not close itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.switch_to_window(app_window).await.unwrap();
    let zip_link = css(&client, "[data-testid=download-zip]").await;
    let tiles = wait_count(
        &client,
        "[data-testid=item][data-stage=saved]",
        picked.len(),
    )
    .await;
    let mut shown = BTreeSet::new();
    for tile in &tiles {
        shown.insert(tile.attr("data-item-id").await.unwrap().unwrap());
    }
    assert_eq!(shown, picked, "the app saved exactly the picked items");
    tiles[0].click().await.unwrap();
    let report = css(&client, "[data-testid=item-report]").await;
    let report_text = report.text().await.unwrap();
    assert!(
        report_text.contains("Artist") && report_text.contains("Ada Lovelace"),
        "the before/after table shows the new Artist: {report_text}"
    );
    shots.take(&client, "results").await;

    // 6. The zip holds the picked photos, fixed.
    let href = zip_link.prop("href").await.unwrap().unwrap();
    helper::proxy::install_crypto_provider();
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

    // 7. The helper wrote the same files into its library folder.
    let saved: usize = walk_files(helper.library.path())
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".keepsake")
        })
        .count();
    assert_eq!(saved, picked.len());

    client.close().await.unwrap();
}

fn walk_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
