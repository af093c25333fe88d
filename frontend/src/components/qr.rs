use leptos::prelude::*;
use qrcode::QrCode;
use qrcode::render::svg;

/// `text` as a QR code (an inline SVG made here, in Rust: no outside service ever
/// sees the link), for a phone's camera.
#[component]
pub fn Qr(text: String) -> impl IntoView {
    let image = QrCode::new(text.as_bytes()).ok().map(|code| {
        code.render::<svg::Color<'_>>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
    });
    view! {
        {image.map(|svg| view! {
            <div class="qr" data-testid="picker-qr" role="img" aria-label="QR code of the picker link" inner_html=svg></div>
        })}
    }
}
