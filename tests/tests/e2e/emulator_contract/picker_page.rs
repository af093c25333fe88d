//! The picker page: the account's library with real thumbnails, Done sets the
//! picked items once and the picker URI dies, and `maxItemCount` is enforced.

use keepsake_tests::emulator_client::{
    MARIA, TOMAS, assert_google_error, attr_values, config, query, start,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn picker_page_shows_the_accounts_library_with_real_thumbnails() {
    let emu = start(config()).await;
    let token = emu.sign_in(TOMAS).await;
    let s = emu.create_ok(&token, json!({})).await;
    let uri = s["pickerUri"].as_str().unwrap();
    let res = emu.http.get(uri).send().await.unwrap();
    let html = res.text().await.unwrap();
    let ids = attr_values(&html, "data-testid=\"picker-item\"", "data-item-id");
    assert!(ids.len() >= 10, "{} items", ids.len());
    let thumbs = attr_values(&html, "<img", "src");
    assert_eq!(thumbs.len(), ids.len());
    let thumb = emu.http.get(emu.url(&thumbs[0])).send().await.unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    assert!(thumb.bytes().await.unwrap().starts_with(&[0xff, 0xd8]));
    // Maria's library is another one.
    let maria = emu.sign_in(MARIA).await;
    let other = emu.create_ok(&maria, json!({})).await;
    let maria_ids = emu.picker_items(other["pickerUri"].as_str().unwrap()).await;
    assert!(maria_ids.iter().all(|id| !ids.contains(id)));
    // All accounts together hold at least 60 items.
    let mut total = ids.len() + maria_ids.len();
    for email in ["lucia.rivera@example.com", "carmen.rivera@example.com"] {
        let t = emu.sign_in(email).await;
        let s = emu.create_ok(&t, json!({})).await;
        total += emu
            .picker_items(s["pickerUri"].as_str().unwrap())
            .await
            .len();
    }
    assert!(total >= 60, "{total} items in the sample library");
}

#[tokio::test]
async fn done_sets_items_once_and_the_uri_dies() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let uri = s["pickerUri"].as_str().unwrap();
    // Listing before Done is FAILED_PRECONDITION.
    assert_google_error(
        emu.list(&token, &[("sessionId", id)]).await,
        400,
        "FAILED_PRECONDITION",
    )
    .await;
    // /autoclose is the same page; Done there closes the window.
    let auto = emu
        .http
        .get(format!("{uri}/autoclose"))
        .send()
        .await
        .unwrap();
    assert_eq!(auto.status(), StatusCode::OK);
    let auto_html = auto.text().await.unwrap();
    assert!(auto_html.contains("name=\"autoclose\" value=\"1\""));
    let ids = attr_values(&auto_html, "data-testid=\"picker-item\"", "data-item-id");
    let res = emu
        .http
        .post(format!("{uri}/done"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("item", &ids[0]),
            ("item", &ids[3]),
            ("autoclose", "1"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("window.close()"));
    let listed = emu.list_all(&token, id, None).await;
    let listed_ids: Vec<&str> = listed.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(listed_ids, [ids[0].as_str(), ids[3].as_str()]);
    // A used URI is dead, with and without /autoclose, and Done cannot be redone.
    for dead in [uri.to_owned(), format!("{uri}/autoclose")] {
        let res = emu.http.get(&dead).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::GONE);
    }
    assert_eq!(emu.done(uri, &ids[..1]).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn picker_enforces_max_item_count() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": "2"}}))
        .await;
    let uri = s["pickerUri"].as_str().unwrap();
    let ids = emu.picker_items(uri).await;
    let too_many = emu.done(uri, &ids[..3]).await;
    assert_eq!(too_many.status(), StatusCode::OK);
    assert!(too_many.text().await.unwrap().contains("up to 2 items"));
    let none = emu.done(uri, &[]).await;
    assert!(none.text().await.unwrap().contains("at least one"));
    let got: Value = emu
        .get_session(&token, s["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["mediaItemsSet"], json!(false));
    // Someone else's item cannot be smuggled in.
    let tomas = emu.sign_in(TOMAS).await;
    let t = emu.create_ok(&tomas, json!({})).await;
    let foreign = emu.picker_items(t["pickerUri"].as_str().unwrap()).await;
    let res = emu.done(uri, &foreign[..1]).await;
    assert!(res.text().await.unwrap().contains("not in this library"));
    assert_eq!(emu.done(uri, &ids[..2]).await.status(), StatusCode::OK);
}
