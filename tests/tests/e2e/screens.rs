//! Every screen of the app at a laptop's width and a 390 px phone's, in the light
//! and the dark scheme (issue 10, "Screens"): screenshots of each in
//! `target/e2e-screenshots/screens-<width>-<scheme>/`, and on each the checks a
//! screenshot cannot be trusted to catch: nothing wider than the window, the
//! scheme followed, every control named for a screen reader, and the main path
//! usable from the keyboard.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use keepsake_tests::{
    Browser, HelperProcess, Look, Screenshots, add_member, dist_dir, eventually, skip_or_fail,
};
use serde_json::json;

use crate::browser::{css, pick, sign_in};

/// Fails when the page is wider than the window (sideways scrolling on a phone),
/// naming the widest elements.
async fn assert_fits(client: &Client, look: Look, screen: &str) {
    let overflow = client
        .execute(
            "const width = document.documentElement.clientWidth;
             if (document.documentElement.scrollWidth <= width + 1) return [];
             return [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > width + 1)
                 .slice(0, 5)
                 .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        json!([]),
        "{screen} at {}: wider than the window",
        look.name()
    );
}

/// Fails when a button, link, input or select has no name a screen reader could
/// read (text, `aria-label`, `title`, or a `<label>`).
async fn assert_controls_named(client: &Client, look: Look, screen: &str) {
    let unnamed = client
        .execute(
            "const named = e => (e.innerText || '').trim() || e.getAttribute('aria-label')
                 || e.getAttribute('title') || (e.labels && [...e.labels].some(l => l.innerText.trim()))
                 || e.getAttribute('alt');
             return [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea')]
                 .filter(e => e.checkVisibility() && !named(e))
                 .map(e => e.outerHTML.slice(0, 120));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        unnamed,
        json!([]),
        "{screen} at {}: controls without a name",
        look.name()
    );
}

/// Fails when the page's background does not follow the scheme.
async fn assert_scheme(client: &Client, look: Look) {
    let luminance = client
        .execute(
            "const [r, g, b] = getComputedStyle(document.documentElement).backgroundColor
                 .match(/\\d+/g).map(Number);
             return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    if look.dark {
        assert!(
            luminance < 0.3,
            "dark scheme, background luminance {luminance}"
        );
    } else {
        assert!(
            luminance > 0.7,
            "light scheme, background luminance {luminance}"
        );
    }
}

/// One screen: checked, then photographed.
async fn screen(client: &Client, shots: &mut Screenshots, look: Look, name: &str) {
    assert_fits(client, look, name).await;
    assert_controls_named(client, look, name).await;
    shots.take(client, name).await;
}

/// Presses Tab until the element matching `selector` has the focus.
async fn tab_to(client: &Client, selector: &str) {
    for _ in 0..40 {
        let focused = client
            .execute(
                "return document.activeElement && document.activeElement.matches(arguments[0]);",
                vec![json!(selector)],
            )
            .await
            .unwrap();
        if focused == json!(true) {
            return;
        }
        client
            .active_element()
            .await
            .unwrap()
            .send_keys(&Key::Tab.to_string())
            .await
            .unwrap();
    }
    panic!("Tab never reached {selector}");
}

/// The whole single-user path, screen by screen, in one look.
async fn every_screen(look: Look) {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let Some(browser) = Browser::start_with(look).await else {
        return;
    };
    let client = &browser.client;
    let helper = HelperProcess::start_demo(
        Some(&dist),
        &[
            "--demo-large-files",
            "0",
            // Slow enough that the progress card can be seen at work.
            "--demo-fault-slow-bodies",
            "1",
            "--demo-fault-slow-speed",
            "24K",
        ],
    )
    .unwrap();
    let mut shots = Screenshots::new(&format!("screens-{}", look.name()));
    client.goto(&helper.base_url).await.unwrap();
    css(client, "[data-testid=sign-in]:not([disabled])").await;
    let width = client
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(
        width,
        json!(look.width),
        "the window is {} px wide",
        look.width
    );
    assert_scheme(client, look).await;
    screen(client, &mut shots, look, "sign-in").await;

    // Sign-in from the keyboard: Tab to the button, Enter.
    tab_to(client, "[data-testid=sign-in]").await;
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    css(client, "[data-testid=consent-account]").await;
    client.back().await.unwrap();
    sign_in(client, &mut shots).await;
    screen(client, &mut shots, look, "signed-in").await;

    // The time zone comes from the helper (the app has no database): an unknown
    // name is said so on the card, a real one clears it.
    let zone = css(client, "[data-testid=time-zone]").await;
    zone.clear().await.unwrap();
    zone.send_keys("Mars/Olympus_Mons\t").await.unwrap();
    let problem = css(client, "[data-testid=settings-problem]")
        .await
        .text()
        .await
        .unwrap();
    assert!(problem.contains("unknown time zone"), "{problem}");
    screen(client, &mut shots, look, "settings-problem").await;
    zone.clear().await.unwrap();
    zone.send_keys("America/Bogota\t").await.unwrap();
    eventually("the problem to clear", || async {
        client
            .find(Locator::Css("[data-testid=settings-problem]"))
            .await
            .is_err()
    })
    .await;

    let picked = pick(
        client,
        &mut shots,
        &[
            ("[data-testid=picker-item]:not(:has(.vid))", 5),
            ("[data-testid=picker-item][title*=PROCESSING]", 1),
        ],
    )
    .await;
    assert_eq!(picked[0].len() + picked[1].len(), 6);
    css(client, "[data-testid=progress]").await;
    screen(client, &mut shots, look, "processing").await;

    css(client, "[data-testid=failure-group]").await;
    css(client, "[data-testid=item][data-stage=saved]")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=item-report]").await;
    let taken = css(client, "[data-testid=detail-taken]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        taken.contains(" +") || taken.contains(" -") || taken.ends_with("UTC"),
        "the capture time names its offset: {taken}"
    );
    screen(client, &mut shots, look, "results").await;
    shots
        .take_at(client, "[data-testid=details]", "details")
        .await;
    // On a phone the details are a sheet over the grid: it closes.
    css(client, "[data-testid=details-close]")
        .await
        .click()
        .await
        .unwrap();

    css(client, "[data-testid=history-toggle]")
        .await
        .click()
        .await
        .unwrap();
    css(client, "[data-testid=history-batch]").await;
    screen(client, &mut shots, look, "history").await;

    // A family's helper asks who is there first.
    let family = tempfile::tempdir().unwrap();
    let config = family.path().join("keepsake.toml");
    add_member(&config, "ana", "correct horse battery", "Ana").unwrap();
    let family_helper =
        HelperProcess::start_demo(Some(&dist), &["--config", config.to_str().unwrap()]).unwrap();
    client.goto(&family_helper.base_url).await.unwrap();
    css(client, "[data-testid=member-name]").await;
    assert_scheme(client, look).await;
    screen(client, &mut shots, look, "member-sign-in").await;
    client.clone().close().await.unwrap();
    drop(helper);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_on_a_laptop_light() {
    every_screen(Look::DESKTOP).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_on_a_laptop_dark() {
    every_screen(Look::DESKTOP.dark()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_on_a_phone_light() {
    every_screen(Look::PHONE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_on_a_phone_dark() {
    every_screen(Look::PHONE.dark()).await;
}
