//! Thin wrappers over the browser APIs the app uses, each turning a JS exception
//! into a message.

use js_sys::{Array, ArrayBuffer};
use wasm_bindgen::JsValue;

use crate::client::js_error;

fn window() -> web_sys::Window {
    web_sys::window().expect("the app runs in a browser window")
}

/// `location.origin`, e.g. `http://127.0.0.1:8080`.
pub fn origin() -> String {
    window().location().origin().unwrap_or_default()
}

/// `location.hash`, with its `#`.
pub fn hash() -> String {
    window().location().hash().unwrap_or_default()
}

/// Removes the fragment from the address bar without a reload or history entry.
pub fn clear_hash() {
    let location = window().location();
    let path = format!(
        "{}{}",
        location.pathname().unwrap_or_else(|_| "/".into()),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
}

/// Sends the browser to `url`.
pub fn navigate(url: &str) -> Result<(), String> {
    window()
        .location()
        .assign(url)
        .map_err(|err| js_error(&err))
}

/// A random (version 4) UUID from `crypto.getRandomValues`, which pages served
/// over plain http have too (`crypto.randomUUID` exists only on https and
/// localhost: a family's helper on the LAN would not start).
pub fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    window()
        .crypto()
        .map_err(|err| js_error(&err))?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|err| js_error(&err))?;
    Ok(uuid_v4(bytes))
}

/// 16 random bytes as a version 4 UUID, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn session_storage() -> Result<web_sys::Storage, String> {
    window()
        .session_storage()
        .map_err(|err| js_error(&err))?
        .ok_or_else(|| "session storage is unavailable".to_owned())
}

fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Stores a value for this tab.
pub fn session_set(key: &str, value: &str) -> Result<(), String> {
    session_storage()?
        .set_item(key, value)
        .map_err(|err| js_error(&err))
}

/// Reads and removes a value stored for this tab.
pub fn session_take(key: &str) -> Option<String> {
    let storage = session_storage().ok()?;
    let value = storage.get_item(key).ok().flatten();
    let _ = storage.remove_item(key);
    value
}

/// Reads a value stored for this tab.
pub fn session_get(key: &str) -> Option<String> {
    session_storage().ok()?.get_item(key).ok().flatten()
}

/// Forgets a value stored for this tab.
pub fn session_remove(key: &str) {
    if let Ok(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

/// Reads a remembered setting.
pub fn local_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Remembers a setting (best effort: private windows may refuse).
pub fn local_set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

/// The browser's UTC offset at `instant` (from `Date`, which knows the system's
/// zone without a database in the app).
pub fn local_offset(instant: jiff::Timestamp) -> jiff::tz::Offset {
    let date = js_sys::Date::new(&JsValue::from_f64(instant.as_millisecond() as f64));
    // `getTimezoneOffset` is minutes *behind* UTC: -60 in Paris in winter.
    let minutes = -(date.get_timezone_offset() as i32);
    jiff::tz::Offset::from_seconds(minutes * 60).unwrap_or(jiff::tz::Offset::UTC)
}

/// The browser's IANA time zone, e.g. `Europe/Berlin`.
pub fn time_zone() -> Option<String> {
    let options =
        js_sys::Intl::DateTimeFormat::new(&Array::new(), &js_sys::Object::new()).resolved_options();
    js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()?
        .as_string()
}

/// An object URL showing `buffer` (for thumbnails).
pub fn object_url(buffer: &ArrayBuffer, mime: &str) -> Result<String, String> {
    let parts = Array::of1(buffer);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_buffer_source_sequence_and_options(&parts, &options)
        .map_err(|err| js_error(&err))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|err| js_error(&err))
}

/// Whether the tab is visible (browsers throttle timers in background tabs).
pub fn is_visible() -> bool {
    window()
        .document()
        .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

/// Puts the app's WebAssembly memory on `window.keepsakeWasmMemory`, so a test or
/// a benchmark driving the tab can read how large it grew
/// (`keepsakeWasmMemory.buffer.byteLength`): WASM memory never shrinks, so its
/// size is the peak the app ever held. `keepsakeHeapInUse()` says what the heap
/// holds now (it goes back down when a batch is cleared).
pub fn expose_wasm_memory() {
    let _ = js_sys::Reflect::set(
        &window(),
        &JsValue::from_str("keepsakeWasmMemory"),
        &wasm_bindgen::memory(),
    );
    // What the heap holds now: the memory's size is only its high-water mark.
    let live = wasm_bindgen::prelude::Closure::<dyn Fn() -> f64>::new(|| heap_in_use() as f64);
    let _ = js_sys::Reflect::set(
        &window(),
        &JsValue::from_str("keepsakeHeapInUse"),
        live.as_ref(),
    );
    live.forget(); // once per page, for as long as it lives
}

/// The app's allocator, counting: `keepsakeHeapInUse()` in the page reads it.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Bytes the app's heap holds now (0 outside the browser).
pub fn heap_in_use() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        ALLOCATOR.allocated()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_make_a_version_4_uuid() {
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        let id = uuid_v4(*b"0123456789abcdef");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
