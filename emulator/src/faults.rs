//! Cross-cutting behaviour of the emulator's JSON endpoints: CORS answered the way
//! Google's APIs answer it, and seeded fault injection (500/503, 429 with
//! `Retry-After`) for the API and media routes.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use picker::ErrorStatus;

use super::Emulator;

/// CORS like `*.googleapis.com`: any origin is echoed back, preflights succeed
/// without a token, errors carry the headers too (so a browser sees the status).
/// The response headers Google's APIs let a browser's script read.
pub(super) const EXPOSED_HEADERS: &str = "vary, content-encoding, date, server, content-length";

pub(super) async fn cors(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut res = StatusCode::OK.into_response();
        let h = res.headers_mut();
        if let Some(origin) = origin {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("DELETE,GET,HEAD,PATCH,POST,PUT"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static("origin, x-origin, referer"),
        );
        return res;
    }
    let mut res = next.run(req).await;
    if let Some(origin) = origin {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::VARY,
            HeaderValue::from_static("origin, x-origin, referer"),
        );
        // Google's list, as seen (PICKER-API.md §1): `Retry-After` is not in it,
        // so a browser client cannot read it.
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    res
}

/// What a request draws from the fault sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Answer normally.
    None,
    /// 500 INTERNAL.
    Internal,
    /// 503 UNAVAILABLE.
    Unavailable,
    /// 429 RESOURCE_EXHAUSTED with `Retry-After`.
    RateLimited,
}

/// How a media body misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFault {
    /// Sent whole at full speed.
    None,
    /// Connection cut after about half the body.
    Cut,
    /// Sent at the configured slow speed.
    Slow,
}

impl Emulator {
    /// Draws the next request fault (only when any is configured, so a run without
    /// faults never touches the sequence).
    pub(super) fn draw_fault(&self) -> Fault {
        let f = &self.inner.config.faults;
        if f.server_error_rate <= 0.0 && f.rate_limit_rate <= 0.0 {
            return Fault::None;
        }
        let mut rng = self
            .inner
            .fault_rng
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let x = rng.next_f64();
        if x < f.server_error_rate {
            if rng.below(2) == 0 {
                Fault::Internal
            } else {
                Fault::Unavailable
            }
        } else if x < f.server_error_rate + f.rate_limit_rate {
            Fault::RateLimited
        } else {
            Fault::None
        }
    }

    /// Draws the next Picker API fault: the shared faults first, then the
    /// API-only rate limit (drawn only when configured, so the sequence of runs
    /// without it is unchanged).
    pub(super) fn draw_api_fault(&self) -> Fault {
        let fault = self.draw_fault();
        let rate = self.inner.config.faults.api_rate_limit_rate;
        if fault != Fault::None || rate <= 0.0 {
            return fault;
        }
        let mut rng = self
            .inner
            .fault_rng
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if rng.next_f64() < rate {
            Fault::RateLimited
        } else {
            Fault::None
        }
    }

    /// Draws how the next media body is sent.
    pub(super) fn draw_body_fault(&self) -> BodyFault {
        let f = &self.inner.config.faults;
        if f.cut_body_rate <= 0.0 && f.slow_body_rate <= 0.0 {
            return BodyFault::None;
        }
        let mut rng = self
            .inner
            .fault_rng
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let x = rng.next_f64();
        if x < f.cut_body_rate {
            BodyFault::Cut
        } else if x < f.cut_body_rate + f.slow_body_rate {
            BodyFault::Slow
        } else {
            BodyFault::None
        }
    }

    /// Whether the item at `index` is listed without `createTime`: drawn from the
    /// seed and the index alone, so every listing agrees.
    pub(super) fn hides_create_time(&self, index: usize) -> bool {
        let rate = self.inner.config.faults.no_create_time_rate;
        let salt = 0x6e6f_2d63_7469_6d65_u64; // "no-ctime"
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        rate > 0.0
            && crate::rng::Rng::new(
                self.inner.config.seed ^ salt ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
            .next_f64()
                < rate
    }

    /// Draws whether a new session expires early.
    pub(super) fn draw_early_expiry(&self) -> bool {
        let rate = self.inner.config.faults.early_expiry_rate;
        if rate <= 0.0 {
            return false;
        }
        let mut rng = self
            .inner
            .fault_rng
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        rng.next_f64() < rate
    }
}

fn retry_after(emu: &Emulator, mut res: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&emu.inner.config.faults.retry_after_secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Fault injection for the Picker API: Google's JSON errors.
pub(super) async fn api_faults(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    match emu.draw_api_fault() {
        Fault::None => next.run(req).await,
        Fault::Internal => super::api::error(ErrorStatus::Internal, "Internal error encountered."),
        Fault::Unavailable => super::api::error(
            ErrorStatus::Unavailable,
            "The service is currently unavailable.",
        ),
        Fault::RateLimited => retry_after(
            &emu,
            super::api::error(
                ErrorStatus::ResourceExhausted,
                "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service \
                 'photospicker.googleapis.com'.",
            ),
        ),
    }
}

/// Fault injection for media bytes: plain-text errors, as Google's media servers
/// do not answer JSON.
pub(super) async fn media_faults(
    State(emu): State<Emulator>,
    req: Request,
    next: Next,
) -> Response {
    let text = |status: StatusCode, body: &'static str| {
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
            body,
        )
            .into_response()
    };
    match emu.draw_fault() {
        Fault::None => next.run(req).await,
        Fault::Internal => text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Fault::Unavailable => text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        Fault::RateLimited => retry_after(
            &emu,
            text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmulatorConfig, FaultConfig};

    fn emulator(faults: FaultConfig) -> Emulator {
        Emulator::new(EmulatorConfig {
            faults,
            large_file_count: 0,
            ..EmulatorConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn no_faults_by_default() {
        let emu = emulator(FaultConfig::default());
        assert!((0..1000).all(|_| emu.draw_fault() == Fault::None));
        assert!((0..1000).all(|_| emu.draw_body_fault() == BodyFault::None));
    }

    #[test]
    fn fault_sequence_repeats_for_a_seed_and_matches_the_rate() {
        let faults = FaultConfig {
            server_error_rate: 0.2,
            rate_limit_rate: 0.1,
            ..FaultConfig::default()
        };
        let a: Vec<_> = {
            let e = emulator(faults.clone());
            (0..2000).map(|_| e.draw_fault()).collect()
        };
        let b: Vec<_> = {
            let e = emulator(faults);
            (0..2000).map(|_| e.draw_fault()).collect()
        };
        assert_eq!(a, b);
        let errors = a
            .iter()
            .filter(|f| matches!(f, Fault::Internal | Fault::Unavailable))
            .count();
        let limited = a.iter().filter(|f| **f == Fault::RateLimited).count();
        assert!((300..500).contains(&errors), "{errors}");
        assert!((130..270).contains(&limited), "{limited}");
        assert!(a.contains(&Fault::Internal) && a.contains(&Fault::Unavailable));
    }

    #[test]
    fn the_api_only_rate_limit_leaves_media_alone() {
        let emu = emulator(FaultConfig {
            api_rate_limit_rate: 0.5,
            ..FaultConfig::default()
        });
        assert!((0..1000).all(|_| emu.draw_fault() == Fault::None), "media");
        let api: Vec<_> = (0..2000).map(|_| emu.draw_api_fault()).collect();
        let limited = api.iter().filter(|f| **f == Fault::RateLimited).count();
        assert!((850..1150).contains(&limited), "{limited}");
        assert!(
            api.iter()
                .all(|f| matches!(f, Fault::None | Fault::RateLimited))
        );
    }
}
