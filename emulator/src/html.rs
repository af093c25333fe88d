//! Server-rendered pages: one shell with a Google-like look, HTML escaping, and the
//! emulator's index page.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::library::ACCOUNTS;
use super::{Emulator, origin_of};

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 Roboto,"Segoe UI",Arial,sans-serif;color:#202124;background:#f0f4f9}
main.card{max-width:450px;margin:48px auto;background:#fff;border-radius:28px;padding:36px 40px 28px;box-shadow:0 1px 3px rgba(60,64,67,.15)}
main.wide{max-width:none;margin:0;border-radius:0;padding:0;background:#fff;min-height:100vh}
.logo{font:500 22px/1 "Product Sans",Arial,sans-serif;letter-spacing:-.5px;display:flex;align-items:center;gap:8px}
.logo b{font-weight:500}.g1{color:#4285f4}.g2{color:#ea4335}.g3{color:#fbbc05}.g4{color:#34a853}
.badge{font:500 11px/1 Arial,sans-serif;color:#5f6368;border:1px solid #dadce0;border-radius:10px;padding:3px 8px;letter-spacing:.3px}
h1{font:400 24px/1.3 "Google Sans",Roboto,Arial,sans-serif;margin:24px 0 6px}
p.sub{margin:0 0 20px;color:#444746;font-size:16px}
ul.accounts{list-style:none;margin:0 0 16px;padding:0;border-top:1px solid #e3e3e3}
ul.accounts li{border-bottom:1px solid #e3e3e3}
label.account{display:flex;align-items:center;gap:14px;padding:12px 8px;cursor:pointer;border-radius:8px}
label.account:hover{background:#f3f6fc}
label.account input{position:absolute;opacity:0;pointer-events:none}
label.account:has(input:checked){background:#e8f0fe}
label.account:has(input:focus-visible){outline:2px solid #0b57d0}
.avatar{width:32px;height:32px;border-radius:50%;color:#fff;display:grid;place-items:center;font-weight:500;flex:none}
.who b{display:block;font-weight:500;color:#1f1f1f}.who span{color:#444746;font-size:12px}
.check{margin-left:auto;color:#0b57d0;visibility:hidden;font-size:18px}
label.account:has(input:checked) .check{visibility:visible}
.scope{background:#f8fafd;border-radius:12px;padding:12px 16px;color:#1f1f1f;margin:8px 0 20px}
.scope ul{margin:6px 0 0;padding-left:20px}
.fine{color:#444746;font-size:12px;margin:0 0 20px}
.buttons{display:flex;justify-content:flex-end;gap:8px}
button{font:500 14px/1 "Google Sans",Roboto,Arial,sans-serif;border-radius:20px;padding:11px 24px;cursor:pointer;border:0}
button.primary{background:#0b57d0;color:#fff}button.primary:hover{background:#0a4fbd}
button.primary:disabled{background:#e3e3e3;color:#8e918f;cursor:default}
button.text{background:none;color:#0b57d0}button.text:hover{background:#f0f4fd}
.error-code{font-family:monospace;color:#b3261e;margin-top:10px}
header.bar{position:sticky;top:0;z-index:2;display:flex;align-items:center;gap:16px;padding:12px 24px;background:#fff;border-bottom:1px solid #e3e3e3}
header.bar .count{margin-left:auto;color:#444746}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:4px;padding:16px 24px 32px}
label.tile{position:relative;display:block;aspect-ratio:1;cursor:pointer;overflow:hidden;background:#e9eef6;border-radius:4px}
label.tile img{width:100%;height:100%;object-fit:cover;display:block;transition:transform .12s}
label.tile input{position:absolute;opacity:0}
label.tile .tick{position:absolute;top:8px;left:8px;width:22px;height:22px;border-radius:50%;border:2px solid #fff;background:rgba(0,0,0,.25)}
label.tile:has(input:checked) img{transform:scale(.86);border-radius:6px}
label.tile:has(input:checked){background:#d3e3fd}
label.tile:has(input:checked) .tick{background:#0b57d0;border-color:#0b57d0}
label.tile:has(input:checked) .tick::after{content:"✓";color:#fff;font-size:14px;position:absolute;left:4px;top:0}
label.tile:has(input:disabled){cursor:not-allowed;opacity:.55}
.vid{position:absolute;right:6px;bottom:6px;color:#fff;font-size:12px;background:rgba(0,0,0,.55);border-radius:4px;padding:1px 6px}
.msg{padding:12px 24px;color:#b3261e}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #e3e3e3;padding:6px 8px;text-align:left}
"#;

/// The Google-like wordmark, marked as the emulator so nobody mistakes it.
pub fn logo() -> &'static str {
    r#"<div class="logo"><b><span class="g1">G</span><span class="g2">o</span><span class="g3">o</span><span class="g1">g</span><span class="g4">l</span><span class="g2">e</span></b><span class="badge">EMULATOR</span></div>"#
}

/// A complete page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// A page with a status code and headers that keep it out of caches and frames
/// (Google's sign-in and picker pages cannot be framed either).
pub fn respond(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(page(title, body)),
    )
        .into_response()
}

/// Google's bare 404 for unknown paths on its API hosts: HTML, not JSON.
pub fn google_404(path: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>\
         <p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>{}</code> was not found on this server. \
         <ins>That’s all we know.</ins>",
        esc(path)
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// `GET /emulator/`: what the emulator holds, for people poking at the demo.
pub async fn index(State(emu): State<Emulator>, headers: HeaderMap) -> Response {
    let origin = origin_of(&headers);
    let ep = emu.endpoints(&origin);
    let mut rows = String::new();
    for (n, account) in ACCOUNTS.iter().enumerate() {
        let count = emu.library().of_account(n).count();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{count}</td></tr>",
            esc(account.name),
            esc(account.email)
        ));
    }
    let body = format!(
        "<main class=\"card\" style=\"max-width:720px\">{}<h1>Google emulator</h1>\
         <p class=\"sub\">Keepsake's stand-in for Google sign-in and the Photos Picker API.</p>\
         <table><tr><th>Account</th><th>Email</th><th>Items</th></tr>{rows}</table>\
         <p class=\"fine\" style=\"margin-top:16px\">Client id <code>{}</code><br>Authorization <code>{}</code><br>\
         Picker API <code>{}</code></p></main>",
        logo(),
        esc(&ep.client_id),
        esc(&ep.auth_url),
        esc(&ep.picker_api)
    );
    respond(StatusCode::OK, "Google emulator", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
