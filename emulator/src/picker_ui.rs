//! The picker page behind `pickerUri`: the account's library as a grid of real
//! thumbnails, tick up to `maxItemCount`, Done. With `/autoclose` the window closes
//! itself after Done. A used, deleted or expired link shows "this link has expired".

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::html::{esc, logo, respond};
use super::library::ACCOUNTS;
use super::{Emulator, PICKER_UI_PATH, Session, media};

/// Side of the square thumbnails on the page.
const THUMB: u32 = 256;

pub(super) fn routes() -> Router<Emulator> {
    Router::new()
        .route(&format!("{PICKER_UI_PATH}{{id}}"), get(page))
        .route(
            &format!("{PICKER_UI_PATH}{{id}}/autoclose"),
            get(page_autoclose),
        )
        .route(&format!("{PICKER_UI_PATH}{{id}}/done"), post(done))
        .route(
            &format!("{PICKER_UI_PATH}{{id}}/thumb/{{item}}"),
            get(thumb),
        )
}

impl Emulator {
    /// The session behind a live picker link (not used, not deleted, not expired,
    /// still within the picking time).
    fn live_picker(&self, picker_id: &str) -> Option<Session> {
        let now = self.now();
        let st = self.state();
        let session_id = st.pickers.get(picker_id)?;
        st.sessions
            .get(session_id)
            .filter(|s| s.picked.is_none() && s.expire > now && s.picking_deadline > now)
            .cloned()
    }
}

fn expired_page() -> Response {
    let body = format!(
        "<main class=\"card\" data-testid=\"picker-expired\">{}<h1>This link has expired</h1>\
         <p class=\"sub\">Go back to the app and start again to pick photos.</p></main>",
        logo()
    );
    respond(
        StatusCode::GONE,
        "Link expired - Google Photos (emulator)",
        &body,
    )
}

async fn page(State(emu): State<Emulator>, id: Result<Path<String>, PathRejection>) -> Response {
    render(&emu, id, false, None)
}

async fn page_autoclose(
    State(emu): State<Emulator>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    render(&emu, id, true, None)
}

fn render(
    emu: &Emulator,
    id: Result<Path<String>, PathRejection>,
    autoclose: bool,
    problem: Option<&str>,
) -> Response {
    let Ok(Path(picker_id)) = id else {
        return expired_page();
    };
    let Some(session) = emu.live_picker(&picker_id) else {
        return expired_page();
    };
    let account = &ACCOUNTS[session.account];
    let mut tiles = String::new();
    for index in emu.library().of_account(session.account) {
        let Some(item) = emu.library().get(index) else {
            continue;
        };
        let video = if item.kind == picker::MediaType::Video {
            "<span class=\"vid\">▶ video</span>"
        } else {
            ""
        };
        tiles.push_str(&format!(
            "<label class=\"tile\" data-testid=\"picker-item\" data-item-id=\"{id}\" title=\"{name} — {odd}\">\
             <input type=\"checkbox\" name=\"item\" value=\"{id}\">\
             <img src=\"{PICKER_UI_PATH}{pid}/thumb/{id}\" alt=\"{name}\" loading=\"lazy\" width=\"{THUMB}\" height=\"{THUMB}\">\
             <span class=\"tick\"></span>{video}</label>",
            id = esc(&item.id),
            name = esc(&item.filename),
            odd = esc(item.oddity.describe()),
            pid = esc(&picker_id),
        ));
    }
    let max = session.max_items;
    let problem = problem
        .map(|p| format!("<div class=\"msg\" role=\"alert\">{}</div>", esc(p)))
        .unwrap_or_default();
    let body = format!(
        "<main class=\"wide\"><form method=\"post\" action=\"{PICKER_UI_PATH}{pid}/done\" id=\"picker\">\
         <input type=\"hidden\" name=\"autoclose\" value=\"{ac}\">\
         <header class=\"bar\">{logo}<span>Photos · {who}</span>\
         <span class=\"count\" data-testid=\"picker-count\" aria-live=\"polite\">Select up to {max} items</span>\
         <button class=\"primary\" type=\"submit\" data-testid=\"picker-done\" id=\"done\" disabled>Done</button>\
         </header>{problem}<div class=\"grid\">{tiles}</div></form></main>\
         <script>\
         (function(){{var max={max},f=document.getElementById('picker'),d=document.getElementById('done'),\
         c=document.querySelector('[data-testid=picker-count]');\
         function upd(){{var boxes=f.querySelectorAll('input[name=item]'),n=0;\
         boxes.forEach(function(b){{if(b.checked)n++;}});\
         boxes.forEach(function(b){{b.disabled=!b.checked&&n>=max;}});\
         d.disabled=n===0;c.textContent=n?n+' selected'+(n>=max?' (limit reached)':''):'Select up to '+max+' items';}}\
         f.addEventListener('change',upd);upd();}})();\
         </script>",
        pid = esc(&picker_id),
        ac = if autoclose { "1" } else { "0" },
        logo = logo(),
        who = esc(account.email),
    );
    respond(
        StatusCode::OK,
        "Select photos - Google Photos (emulator)",
        &body,
    )
}

async fn done(
    State(emu): State<Emulator>,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let Ok(Path(picker_id)) = id else {
        return expired_page();
    };
    let Some(session) = emu.live_picker(&picker_id) else {
        return expired_page();
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let autoclose = pairs.iter().any(|(k, v)| k == "autoclose" && v == "1");
    let mut picked = Vec::new();
    for (k, v) in &pairs {
        if k != "item" {
            continue;
        }
        match emu.library().find(v) {
            Some(index)
                if emu
                    .library()
                    .get(index)
                    .is_some_and(|i| i.account == session.account) =>
            {
                if !picked.contains(&index) {
                    picked.push(index);
                }
            }
            _ => {
                return render(
                    &emu,
                    Ok(Path(picker_id)),
                    autoclose,
                    Some("An item is not in this library."),
                );
            }
        }
    }
    if picked.is_empty() {
        return render(
            &emu,
            Ok(Path(picker_id)),
            autoclose,
            Some("Select at least one item."),
        );
    }
    if picked.len() as i64 > session.max_items {
        let msg = format!("You can select up to {} items.", session.max_items);
        return render(&emu, Ok(Path(picker_id)), autoclose, Some(&msg));
    }
    // Library order, like Google's listing.
    picked.sort_unstable();
    {
        let mut st = emu.state();
        let Some(s) = st
            .sessions
            .get_mut(&session.id)
            .filter(|s| s.picked.is_none())
        else {
            drop(st);
            return expired_page();
        };
        s.picked = Some(picked.clone());
        // The link is dead from now on.
        st.pickers.remove(&picker_id);
    }
    let close = if autoclose {
        "<script>window.close()</script>"
    } else {
        ""
    };
    let body = format!(
        "<main class=\"card\" data-testid=\"picker-finished\">{}<h1>Done</h1>\
         <p class=\"sub\">{} item{} added. You can close this tab and go back to the app.</p></main>{close}",
        logo(),
        picked.len(),
        if picked.len() == 1 { "" } else { "s" }
    );
    respond(StatusCode::OK, "Done - Google Photos (emulator)", &body)
}

async fn thumb(
    State(emu): State<Emulator>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Ok(Path((picker_id, item_id))) = ids else {
        return respond(StatusCode::NOT_FOUND, "Not found", "");
    };
    // Served with the picker link's authority, only while the link is live and only
    // for the session owner's items.
    let Some(session) = emu.live_picker(&picker_id) else {
        return respond(StatusCode::NOT_FOUND, "Not found", "");
    };
    match emu.library().find(&item_id) {
        Some(index)
            if emu
                .library()
                .get(index)
                .is_some_and(|i| i.account == session.account) =>
        {
            media::thumbnail(&emu, index, THUMB, THUMB, true).await
        }
        _ => respond(StatusCode::NOT_FOUND, "Not found", ""),
    }
}
