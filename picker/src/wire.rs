//! The JSON bodies of the Picker API (camelCase on the wire).
//!
//! Deserialization is tolerant where Google is known or suspected to vary (fields
//! missing, integers as strings, new enum values); serialization writes the
//! documented form.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

use crate::Duration;

/// A picking session (`sessions.create`, `sessions.get`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickingSession {
    /// Session id, used in every later call.
    #[serde(default)]
    pub id: String,
    /// Where the user picks (append `/autoclose` for web flows).
    #[serde(default)]
    pub picker_uri: String,
    /// How to poll; present only while `media_items_set` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_config: Option<PollingConfig>,
    /// When access to the session and its items ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "google_timestamp"
    )]
    pub expire_time: Option<jiff::Timestamp>,
    /// The limits the session was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picking_config: Option<PickingConfig>,
    /// True once the user pressed Done: items can be listed.
    #[serde(default)]
    pub media_items_set: bool,
}

/// The body of `sessions.create`: only `pickingConfig` is settable.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// Limits for the session; `None` sends `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picking_config: Option<PickingConfig>,
}

/// How often to poll `sessions.get`, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollingConfig {
    /// Recommended time between polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<Duration>,
    /// How much longer polling makes sense; 0 means stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in: Option<Duration>,
}

/// Limits of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickingConfig {
    /// Most items the user may pick (default 2000). An int64, so a JSON string on the
    /// wire; numbers are accepted too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "int64_as_string",
        deserialize_with = "int64_from_string_or_number"
    )]
    pub max_item_count: Option<i64>,
}

/// One item the user picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickedMediaItem {
    /// Stable across sessions: the key for dedupe.
    pub id: String,
    /// Capture time in UTC (not the upload time). Not guaranteed present
    /// (PICKER-API.md §3): clients fall back to the file's own dates.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "google_timestamp"
    )]
    pub create_time: Option<jiff::Timestamp>,
    /// Photo or video.
    #[serde(rename = "type", default)]
    pub kind: MediaType,
    /// Where and what the bytes are.
    pub media_file: MediaFile,
}

impl PickedMediaItem {
    /// A video Google is still transcoding: its `=dv` download is refused for now.
    pub fn is_processing(&self) -> bool {
        self.media_file
            .media_file_metadata
            .as_ref()
            .is_some_and(MediaFileMetadata::is_processing)
    }
}

/// `PHOTO`, `VIDEO` or `TYPE_UNSPECIFIED`; any other value reads as
/// `TypeUnspecified` so a new kind does not break listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaType {
    /// A still image (motion photos too).
    Photo,
    /// A video.
    Video,
    /// Unknown or unset.
    #[default]
    #[serde(other)]
    TypeUnspecified,
}

/// The file behind a picked item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFile {
    /// Append a [`crate::MediaSuffix`]; lives 60 minutes; needs the bearer token.
    pub base_url: String,
    /// What Google says the bytes are (may be wrong: a `.heic` can be JPEG).
    #[serde(default)]
    pub mime_type: String,
    /// The name the file was uploaded with.
    #[serde(default)]
    pub filename: String,
    /// Dimensions, camera and photo/video details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_file_metadata: Option<MediaFileMetadata>,
}

/// Metadata Google keeps beside the file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFileMetadata {
    /// Width in pixels (integer; strings accepted).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64_from_string_or_number"
    )]
    pub width: Option<i64>,
    /// Height in pixels (integer; strings accepted).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64_from_string_or_number"
    )]
    pub height: Option<i64>,
    /// Camera maker, e.g. `Apple`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_make: Option<String>,
    /// Camera model, e.g. `iPhone 12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    /// Exposure details of a photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_metadata: Option<PhotoMetadata>,
    /// Frame rate and processing state of a video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_metadata: Option<VideoMetadata>,
}

impl MediaFileMetadata {
    /// A video Google is still transcoding: its `=dv` download is refused for now.
    pub fn is_processing(&self) -> bool {
        self.video_metadata
            .as_ref()
            .is_some_and(|v| v.processing_status == ProcessingStatus::Processing)
    }
}

/// Exposure details of a photo.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoMetadata {
    /// Focal length in millimetres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal_length: Option<f64>,
    /// Aperture f-number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aperture_f_number: Option<f64>,
    /// ISO speed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64_from_string_or_number"
    )]
    pub iso_equivalent: Option<i64>,
    /// Shutter time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_time: Option<Duration>,
}

/// Frame rate and processing state of a video.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoMetadata {
    /// Frames per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// Whether `=dv` can be fetched yet.
    #[serde(default)]
    pub processing_status: ProcessingStatus,
}

/// Processing state of a video; unknown values read as `Unspecified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingStatus {
    /// Still being transcoded: `=dv` fails.
    Processing,
    /// `=dv` works.
    Ready,
    /// Transcoding failed: `=dv` will not work.
    Failed,
    /// Unknown or unset (`UNSPECIFIED`). Last because serde's catch-all must be.
    #[default]
    #[serde(other)]
    Unspecified,
}

/// One page of `mediaItems.list`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMediaItemsResponse {
    /// The page's items (maybe none, even before the last page). Like Google's proto3
    /// JSON, an empty page omits the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_items: Vec<PickedMediaItem>,
    /// Pass as `pageToken` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A timestamp as Google's JSON mapping writes it: RFC 3339 in UTC with `Z`, and
/// 0, 3, 6 or 9 fraction digits (`2026-11-28T17:00:00Z`, `…T17:00:00.120Z`).
pub fn google_timestamp_string(at: jiff::Timestamp) -> String {
    let mut out = at.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = u32::try_from(at.subsec_nanosecond().rem_euclid(1_000_000_000))
        .expect("a remainder of 10^9 fits in u32");
    crate::duration::write_fraction(&mut out, nanos).expect("writing to a String");
    out.push('Z');
    out
}

fn google_timestamp<S: Serializer>(
    value: &Option<jiff::Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(at) => serializer.serialize_str(&google_timestamp_string(*at)),
        None => serializer.serialize_none(),
    }
}

fn int64_as_string<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.collect_str(v),
        None => serializer.serialize_none(),
    }
}

fn int64_from_string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    struct Int64Visitor;
    impl Visitor<'_> for Int64Visitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, or an integer in a string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v).map(Some).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `4032.0` is an integer in a float's clothing; `4032.5` is not.
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("{v} is not an integer")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse().map(Some).map_err(E::custom)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(Int64Visitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_session_parses() {
        let s: PickingSession = serde_json::from_value(json!({
            "id": "abc", "pickerUri": "https://photos.google.com/picker/abc",
            "pollingConfig": { "pollInterval": "5s", "timeoutIn": "1800s" },
            "expireTime": "2026-11-28T17:00:00Z",
            "pickingConfig": { "maxItemCount": "2000" },
            "mediaItemsSet": false
        }))
        .unwrap();
        assert_eq!(s.id, "abc");
        let pc = s.polling_config.unwrap();
        assert_eq!(pc.poll_interval, Some(Duration::from_secs(5)));
        assert_eq!(pc.timeout_in, Some(Duration::from_secs(1800)));
        assert_eq!(s.picking_config.unwrap().max_item_count, Some(2000));
        assert_eq!(s.expire_time.unwrap().to_string(), "2026-11-28T17:00:00Z");
        assert!(!s.media_items_set);
    }

    #[test]
    fn session_with_missing_fields_defaults() {
        let s: PickingSession =
            serde_json::from_value(json!({"id": "x", "mediaItemsSet": true})).unwrap();
        assert!(s.media_items_set);
        assert!(s.polling_config.is_none());
        assert!(s.picking_config.is_none());
        assert_eq!(s.picker_uri, "");
        let s: PickingSession = serde_json::from_value(json!({})).unwrap();
        assert!(!s.media_items_set);
    }

    #[test]
    fn max_item_count_is_written_as_string_and_read_from_either() {
        let c = PickingConfig {
            max_item_count: Some(7),
        };
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            json!({"maxItemCount": "7"})
        );
        let n: PickingConfig = serde_json::from_value(json!({"maxItemCount": 7})).unwrap();
        assert_eq!(n.max_item_count, Some(7));
        let s: PickingConfig =
            serde_json::from_value(json!({"maxItemCount": "9000000000"})).unwrap();
        assert_eq!(s.max_item_count, Some(9_000_000_000));
        assert!(serde_json::from_value::<PickingConfig>(json!({"maxItemCount": "many"})).is_err());
        let none: PickingConfig = serde_json::from_value(json!({"maxItemCount": null})).unwrap();
        assert_eq!(none.max_item_count, None);
    }

    #[test]
    fn create_request_is_empty_object_by_default() {
        assert_eq!(
            serde_json::to_value(CreateSessionRequest::default()).unwrap(),
            json!({})
        );
        let r = CreateSessionRequest {
            picking_config: Some(PickingConfig {
                max_item_count: Some(3),
            }),
        };
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            json!({"pickingConfig": {"maxItemCount": "3"}})
        );
    }

    #[test]
    fn fractional_polling_config_round_trips() {
        let pc: PollingConfig =
            serde_json::from_value(json!({"pollInterval": "3.5s", "timeoutIn": "0.25s"})).unwrap();
        assert_eq!(
            pc.poll_interval.unwrap().get(),
            std::time::Duration::from_millis(3500)
        );
        assert_eq!(
            serde_json::to_value(pc).unwrap(),
            json!({"pollInterval": "3.500s", "timeoutIn": "0.250s"})
        );
    }

    #[test]
    fn documented_photo_item_parses() {
        let item: PickedMediaItem = serde_json::from_value(json!({
            "id": "i1", "createTime": "2019-07-14T09:31:12Z", "type": "PHOTO",
            "mediaFile": {
                "baseUrl": "https://lh3.googleusercontent.com/x", "mimeType": "image/heif",
                "filename": "IMG_0042.HEIC",
                "mediaFileMetadata": {
                    "width": 4032, "height": "3024", "cameraMake": "Apple", "cameraModel": "iPhone 12",
                    "photoMetadata": { "focalLength": 4.2, "apertureFNumber": 1.6,
                        "isoEquivalent": 32, "exposureTime": "0.000846605s" }
                }
            }
        }))
        .unwrap();
        assert_eq!(item.kind, MediaType::Photo);
        let meta = item.media_file.media_file_metadata.unwrap();
        assert_eq!(meta.width, Some(4032));
        assert_eq!(meta.height, Some(3024));
        let photo = meta.photo_metadata.unwrap();
        assert_eq!(
            photo.exposure_time.unwrap().get(),
            std::time::Duration::from_nanos(846_605)
        );
        assert_eq!(photo.iso_equivalent, Some(32));
        assert_eq!(item.create_time.map(|t| t.as_second()), Some(1_563_096_672));
    }

    #[test]
    fn video_item_and_unknown_enums_parse() {
        let item: PickedMediaItem = serde_json::from_value(json!({
            "id": "v", "createTime": "2020-01-01T00:00:00.5Z", "type": "MOTION_THING",
            "mediaFile": { "baseUrl": "b", "mimeType": "video/mp4", "filename": "v.mp4",
                "mediaFileMetadata": { "videoMetadata": { "fps": 29.97, "processingStatus": "SOMETHING_NEW" } } }
        }))
        .unwrap();
        assert_eq!(item.kind, MediaType::TypeUnspecified);
        let video = item
            .media_file
            .media_file_metadata
            .unwrap()
            .video_metadata
            .unwrap();
        assert_eq!(video.processing_status, ProcessingStatus::Unspecified);
        let ready: VideoMetadata =
            serde_json::from_value(json!({"processingStatus": "PROCESSING"})).unwrap();
        assert_eq!(ready.processing_status, ProcessingStatus::Processing);
        assert_eq!(
            serde_json::to_value(MediaType::TypeUnspecified).unwrap(),
            json!("TYPE_UNSPECIFIED")
        );
        assert_eq!(
            serde_json::to_value(ProcessingStatus::Ready).unwrap(),
            json!("READY")
        );
    }

    #[test]
    fn item_without_type_is_unspecified() {
        let item: PickedMediaItem = serde_json::from_value(json!({
            "id": "v", "createTime": "2020-01-01T00:00:00Z", "mediaFile": { "baseUrl": "b" }
        }))
        .unwrap();
        assert_eq!(item.kind, MediaType::TypeUnspecified);
        assert_eq!(item.media_file.filename, "");
    }

    #[test]
    fn width_rejects_non_integers() {
        assert!(serde_json::from_value::<MediaFileMetadata>(json!({"width": 1.5})).is_err());
        assert!(serde_json::from_value::<MediaFileMetadata>(json!({"width": "wide"})).is_err());
        let m: MediaFileMetadata = serde_json::from_value(json!({"width": 640.0})).unwrap();
        assert_eq!(m.width, Some(640));
    }

    #[test]
    fn list_response_last_page_has_no_token() {
        let page: ListMediaItemsResponse = serde_json::from_value(json!({})).unwrap();
        assert!(page.media_items.is_empty());
        assert!(page.next_page_token.is_none());
        assert_eq!(serde_json::to_value(&page).unwrap(), json!({}));
    }
}

#[cfg(test)]
mod google_format {
    use super::*;

    #[test]
    fn timestamps_are_written_with_0_3_6_or_9_fraction_digits() {
        let at = |s: &str| google_timestamp_string(s.parse().unwrap());
        assert_eq!(at("2026-11-28T17:00:00Z"), "2026-11-28T17:00:00Z");
        assert_eq!(at("2026-11-28T17:00:00.12Z"), "2026-11-28T17:00:00.120Z");
        assert_eq!(
            at("2026-11-28T17:00:00.1234Z"),
            "2026-11-28T17:00:00.123400Z"
        );
        assert_eq!(
            at("2026-11-28T17:00:00.123456789Z"),
            "2026-11-28T17:00:00.123456789Z"
        );
        assert_eq!(at("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59.500Z");
        let session = PickingSession {
            expire_time: Some("2026-11-28T17:00:00.5+01:00".parse().unwrap()),
            ..PickingSession::default()
        };
        assert_eq!(
            serde_json::to_value(session).unwrap()["expireTime"],
            "2026-11-28T16:00:00.500Z"
        );
    }
}
