//! The sample library: a family's accounts and their photos and videos, generated
//! deterministically from the seed at start. Metadata is decided up front (cheap);
//! pixels are encoded the first time an item's bytes are asked for, then cached.
//!
//! Every item is consistent: `createTime`, `filename`, `mimeType` and
//! `mediaFileMetadata` agree with the bytes, except where real Google downloads
//! disagree too (a `.heic` name on JPEG bytes).

pub mod exif;
pub mod mp4;
pub mod raster;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use picker::{MediaFileMetadata, MediaType, PhotoMetadata, ProcessingStatus, VideoMetadata};

use self::exif::{Endian, Entry, Value, exif_datetime, tag};
use self::mp4::{MAC_EPOCH_OFFSET, VideoSpec};
use self::raster::{Scene, Window};
use super::config::EmulatorConfig;
use super::rng::Rng;

/// A demo Google account: one member of the family.
#[derive(Debug, Clone)]
pub struct Account {
    /// Short key, used in logs.
    pub key: &'static str,
    /// Display name on the consent page.
    pub name: &'static str,
    /// Email, also accepted as `login_hint`.
    pub email: &'static str,
    /// Avatar colour (CSS).
    pub colour: &'static str,
}

/// The family the demo signs in as.
pub const ACCOUNTS: [Account; 4] = [
    Account {
        key: "maria",
        name: "María Rivera",
        email: "maria.rivera@example.com",
        colour: "#1a73e8",
    },
    Account {
        key: "tomas",
        name: "Tomás Rivera",
        email: "tomas.rivera@example.com",
        colour: "#188038",
    },
    Account {
        key: "lucia",
        name: "Lucía Rivera",
        email: "lucia.rivera@example.com",
        colour: "#d93025",
    },
    Account {
        key: "carmen",
        name: "Carmen Rivera",
        email: "carmen.rivera@example.com",
        colour: "#9334e6",
    },
];

/// What is deliberately odd about an item: the metadata states real Google
/// downloads have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Oddity {
    /// A JPEG as Google serves most: EXIF with a `Software` tag ("Picasa"/"Google")
    /// or camera firmware; date in local time.
    Plain,
    /// EXIF without DateTimeOriginal (or any date): a scan or an edited export.
    NoDateTimeOriginal,
    /// SceneType stored as SHORT instead of UNDEFINED.
    SceneTypeShort,
    /// Make duplicated in IFD0 and DateTimeOriginal duplicated in the Exif IFD.
    DuplicateTags,
    /// A Canon-style maker note whose offsets count from the TIFF header.
    MakerNoteAbsolute,
    /// Big-endian (`MM`) EXIF.
    BigEndian,
    /// JPEG bytes named `.HEIC` with `mimeType` image/heif.
    HeicNamedJpeg,
    /// PNG with an `eXIf` chunk.
    PngExif,
    /// PNG screenshot with no metadata at all.
    PngNoExif,
    /// WebP whose EXIF chunk starts with a JPEG-style `Exif\0\0` prefix.
    WebpExifPrefix,
    /// Taken abroad: DateTimeOriginal is local time (+02:00) with no offset tag, so it
    /// differs from `createTime` by the time-zone offset.
    TimeZoneShift,
    /// JPEG without any EXIF (a messenger copy).
    NoExif,
    /// MP4 video, dates set, READY.
    Mp4,
    /// MP4 video whose mvhd/tkhd/mdhd dates are all zero.
    Mp4ZeroDates,
    /// MP4 video still PROCESSING: `=dv` is refused.
    Mp4Processing,
    /// A large MP4 (size configurable) with zeroed dates, for throughput tests;
    /// streamed.
    LargeMp4,
}

impl Oddity {
    /// One line for people (the picker page tooltip, the emulator's README table).
    pub fn describe(self) -> &'static str {
        match self {
            Oddity::Plain => {
                "JPEG, EXIF with a Software tag, local date without offset or with OffsetTimeOriginal"
            }
            Oddity::NoDateTimeOriginal => "JPEG whose EXIF has no DateTimeOriginal",
            Oddity::SceneTypeShort => "JPEG with SceneType stored as SHORT",
            Oddity::DuplicateTags => "JPEG with duplicated Make and DateTimeOriginal tags",
            Oddity::MakerNoteAbsolute => "JPEG with a maker note using absolute offsets",
            Oddity::BigEndian => "JPEG with big-endian (MM) EXIF",
            Oddity::HeicNamedJpeg => "JPEG bytes named .HEIC, mimeType image/heif",
            Oddity::PngExif => "PNG with an eXIf chunk",
            Oddity::PngNoExif => "PNG screenshot without metadata",
            Oddity::WebpExifPrefix => "WebP whose EXIF chunk starts with Exif\\0\\0",
            Oddity::TimeZoneShift => {
                "JPEG whose local DateTimeOriginal is 2 h off createTime, no offset tag"
            }
            Oddity::NoExif => "JPEG without EXIF",
            Oddity::Mp4 => "MP4 video, READY",
            Oddity::Mp4ZeroDates => "MP4 video with zeroed mvhd/tkhd/mdhd dates",
            Oddity::Mp4Processing => "MP4 video still PROCESSING (=dv refused)",
            Oddity::LargeMp4 => "large MP4 video with zeroed dates (throughput)",
        }
    }

    fn is_video(self) -> bool {
        matches!(
            self,
            Oddity::Mp4 | Oddity::Mp4ZeroDates | Oddity::Mp4Processing | Oddity::LargeMp4
        )
    }
}

/// One item of the library.
#[derive(Debug)]
pub struct Item {
    /// Stable id (the same for a given seed).
    pub id: String,
    /// Index into [`ACCOUNTS`].
    pub account: usize,
    /// Upload name.
    pub filename: String,
    /// What Google claims the bytes are.
    pub mime_type: &'static str,
    /// Photo or video.
    pub kind: MediaType,
    /// Capture time (UTC).
    pub create_time: Timestamp,
    /// Pixel size of the original.
    pub width: u32,
    /// Pixel size of the original.
    pub height: u32,
    /// What is odd about it.
    pub oddity: Oddity,
    /// The Software tag written, if any.
    pub software: Option<String>,
    metadata: MediaFileMetadata,
    scene: Scene,
    content: Content,
    cache: OnceLock<Cached>,
    /// Where a large original is kept once encoded (shared by the library's items).
    spill: Option<Arc<tempfile::TempDir>>,
}

/// Encoded originals larger than this are kept on disk, not in memory: a library
/// of phone-sized photos (`--demo-photo-size 4M`) must not sit in the helper's
/// memory (it serves the emulator in the same process).
const SPILL_OVER: usize = 1 << 20;

/// An original encoded once.
#[derive(Debug)]
enum Cached {
    Memory(Bytes),
    Disk(std::path::PathBuf),
}

#[derive(Debug)]
enum Content {
    Jpeg {
        app1: Option<Vec<u8>>,
        /// Sensor grain over the picture, so the file is as large as a real
        /// phone photo of its pixel size (`--demo-photo-size`).
        grain: bool,
    },
    Png {
        exif: Option<Vec<u8>>,
    },
    Webp {
        exif: Vec<u8>,
    },
    Video(VideoSpec),
}

/// The bytes of an original, in memory or (large videos) as a head plus a seeded
/// stream of sample data.
pub enum Original {
    /// The whole file.
    Whole(Bytes),
    /// `head` followed by `spec.payload_len` bytes drawn from `spec.payload_seed`.
    Streamed {
        /// Boxes before the sample data.
        head: Bytes,
        /// Describes the sample data.
        spec: VideoSpec,
    },
}

impl Original {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Original::Whole(b) => b.len() as u64,
            Original::Streamed { head, spec } => head.len() as u64 + spec.payload_len,
        }
    }

    /// Whether there are no bytes (never, for the sample).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Item {
    /// The `mediaFileMetadata` the API reports.
    pub fn metadata(&self) -> &MediaFileMetadata {
        &self.metadata
    }

    /// Whether `=dv` is refused.
    pub fn is_processing(&self) -> bool {
        self.metadata.is_processing()
    }

    /// The original file (`=d` for photos, `=dv` for videos). CPU-heavy the first
    /// time: call from a blocking task.
    pub fn original(&self) -> Result<Original, String> {
        if let Content::Video(spec) = &self.content
            && self.oddity == Oddity::LargeMp4
        {
            return Ok(Original::Streamed {
                head: Bytes::from(spec.head()),
                spec: spec.clone(),
            });
        }
        let cached = match self.cache.get() {
            Some(cached) => cached,
            None => {
                let bytes = self.encode_original()?;
                let spilled = self
                    .spill
                    .as_ref()
                    .filter(|_| bytes.len() > SPILL_OVER)
                    .and_then(|dir| {
                        let path = dir.path().join(format!("{}.bin", self.id));
                        std::fs::write(&path, &bytes)
                            .ok()
                            .map(|()| Cached::Disk(path))
                    });
                self.cache
                    .get_or_init(|| spilled.unwrap_or_else(|| Cached::Memory(Bytes::from(bytes))))
            }
        };
        match cached {
            Cached::Memory(bytes) => Ok(Original::Whole(bytes.clone())),
            Cached::Disk(path) => std::fs::read(path)
                .map(|bytes| Original::Whole(Bytes::from(bytes)))
                .map_err(|err| format!("reading the encoded original back: {err}")),
        }
    }

    fn encode_original(&self) -> Result<Vec<u8>, String> {
        match &self.content {
            Content::Jpeg { app1, grain } => {
                let mut rgb = self.scene.render(self.width, self.height, Window::FULL);
                if *grain {
                    raster::add_grain(&mut rgb, self.width, hash_id(&self.id));
                }
                let segments: Vec<(u8, Vec<u8>)> = app1.iter().map(|a| (1, a.clone())).collect();
                raster::encode_jpeg(&rgb, self.width, self.height, 88, &segments)
            }
            Content::Png { exif } => {
                let rgb = self.scene.render(self.width, self.height, Window::FULL);
                raster::encode_png(&rgb, self.width, self.height, exif.as_deref())
            }
            Content::Webp { exif } => {
                let rgb = self.scene.render(self.width, self.height, Window::FULL);
                raster::encode_webp(&rgb, self.width, self.height, Some(exif.clone()))
            }
            Content::Video(spec) => Ok(spec.to_bytes()),
        }
    }

    /// A JPEG of the picture (a still for a video) fitting `max_w`×`max_h`, or
    /// filling it exactly, centre-cropped, with `crop`. Never larger than the original.
    pub fn thumbnail(&self, max_w: u32, max_h: u32, crop: bool) -> Result<Vec<u8>, String> {
        let (w, h, window) = if crop {
            let (w, h) = (max_w.min(self.width), max_h.min(self.height));
            (w, h, Window::centre_crop(self.width, self.height, w, h))
        } else {
            let (w, h) = raster::fit(self.width, self.height, max_w, max_h);
            (w, h, Window::FULL)
        };
        let rgb = self.scene.render(w, h, window);
        raster::encode_jpeg(&rgb, w, h, 82, &[])
    }
}

/// Every account's items, newest first within an account.
#[derive(Debug)]
pub struct Library {
    items: Vec<Item>,
}

struct Camera {
    make: &'static str,
    model: &'static str,
    phone: bool,
    firmware: &'static str,
    f_number: (u32, u32),
    focal: (u32, u32),
    /// Kept small (under half a megapixel): every item is encoded at least once per
    /// test run, in debug builds too.
    sizes: &'static [(u32, u32)],
}

const IPHONE: Camera = Camera {
    make: "Apple",
    model: "iPhone 12",
    phone: true,
    firmware: "16.1.1",
    f_number: (8, 5),
    focal: (42, 10),
    sizes: &[(800, 600), (600, 800)],
};
const PIXEL: Camera = Camera {
    make: "Google",
    model: "Pixel 7",
    phone: true,
    firmware: "HDR+ 1.0.540104767zd",
    f_number: (185, 100),
    focal: (681, 100),
    sizes: &[(768, 576), (576, 768)],
};
const GALAXY: Camera = Camera {
    make: "samsung",
    model: "SM-G991B",
    phone: true,
    firmware: "G991BXXU5CVDD",
    f_number: (18, 10),
    focal: (540, 100),
    sizes: &[(800, 600), (800, 450)],
};
const CANON: Camera = Camera {
    make: "Canon",
    model: "Canon EOS 80D",
    phone: false,
    firmware: "Firmware Version 1.0.3",
    f_number: (56, 10),
    focal: (35, 1),
    sizes: &[(840, 560), (560, 840)],
};
const NIKON: Camera = Camera {
    make: "NIKON CORPORATION",
    model: "NIKON D750",
    phone: false,
    firmware: "Ver.1.10",
    f_number: (8, 1),
    focal: (50, 1),
    sizes: &[(840, 560)],
};
const FUJI: Camera = Camera {
    make: "FUJIFILM",
    model: "X-T30",
    phone: false,
    firmware: "Digital Camera X-T30 Ver2.00",
    f_number: (28, 10),
    focal: (23, 1),
    sizes: &[(720, 480)],
};

/// Where the family lives: Bogotá, UTC−5 all year (no DST to muddy the sample).
const HOME_OFFSET_HOURS: i8 = -5;
/// Where the trip photo was taken: Madrid in summer, UTC+2.
const TRIP_OFFSET_HOURS: i8 = 2;

struct Plan {
    account: usize,
    years: (i16, i16),
    cameras: &'static [Camera],
    oddities: &'static [Oddity],
    plain: usize,
}

const PLANS: [Plan; 4] = [
    Plan {
        account: 0,
        years: (2016, 2025),
        cameras: &[IPHONE, CANON],
        oddities: &[
            Oddity::NoDateTimeOriginal,
            Oddity::SceneTypeShort,
            Oddity::DuplicateTags,
            Oddity::MakerNoteAbsolute,
            Oddity::BigEndian,
            Oddity::HeicNamedJpeg,
            Oddity::PngExif,
            Oddity::WebpExifPrefix,
            Oddity::TimeZoneShift,
            Oddity::Mp4,
            Oddity::Mp4ZeroDates,
            Oddity::Mp4Processing,
            Oddity::NoExif,
            Oddity::PngNoExif,
        ],
        plain: 16,
    },
    Plan {
        account: 1,
        years: (2014, 2025),
        cameras: &[PIXEL, NIKON],
        oddities: &[
            Oddity::HeicNamedJpeg,
            Oddity::BigEndian,
            Oddity::Mp4,
            Oddity::SceneTypeShort,
            Oddity::TimeZoneShift,
            Oddity::NoDateTimeOriginal,
            Oddity::WebpExifPrefix,
        ],
        plain: 9,
    },
    Plan {
        account: 2,
        years: (2019, 2025),
        cameras: &[GALAXY],
        oddities: &[
            Oddity::PngNoExif,
            Oddity::HeicNamedJpeg,
            Oddity::Mp4,
            Oddity::NoExif,
            Oddity::DuplicateTags,
        ],
        plain: 5,
    },
    Plan {
        account: 3,
        years: (2009, 2018),
        cameras: &[FUJI, CANON],
        oddities: &[
            Oddity::NoDateTimeOriginal,
            Oddity::MakerNoteAbsolute,
            Oddity::PngExif,
        ],
        plain: 3,
    },
];

impl Library {
    /// The sample library for `config` (seed, large files, processing video).
    pub fn generate(config: &EmulatorConfig) -> Library {
        let mut items = Vec::new();
        for plan in &PLANS {
            let mut rng = Rng::derive(config.seed, ACCOUNTS[plan.account].key);
            let mut oddities: Vec<Oddity> = plan.oddities.to_vec();
            oddities.extend(std::iter::repeat_n(Oddity::Plain, plan.plain));
            if plan.account == 0 {
                oddities.extend(std::iter::repeat_n(Oddity::Plain, config.extra_photos));
                oddities.extend(std::iter::repeat_n(
                    Oddity::LargeMp4,
                    config.large_file_count,
                ));
            }
            let mut account_items: Vec<Item> = oddities
                .iter()
                .map(|&oddity| {
                    let oddity = if oddity == Oddity::Mp4Processing && !config.processing_video {
                        Oddity::Mp4
                    } else {
                        oddity
                    };
                    build_item(&mut rng, plan, oddity, config)
                })
                .collect();
            // Google lists a library newest first.
            account_items.sort_by_key(|item| std::cmp::Reverse(item.create_time));
            items.extend(account_items);
        }
        // Phone-sized photos are kept on disk once encoded (see `SPILL_OVER`).
        if config.photo_size.is_some()
            && let Ok(dir) = tempfile::Builder::new().prefix("keepsake-demo-").tempdir()
        {
            let dir = Arc::new(dir);
            for item in &mut items {
                item.spill = Some(dir.clone());
            }
        }
        Library { items }
    }

    /// Every item.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&Item> {
        self.items.get(index)
    }

    /// Index of the item with this id.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    /// Indexes of an account's items, newest first.
    pub fn of_account(&self, account: usize) -> impl Iterator<Item = usize> + '_ {
        self.items
            .iter()
            .enumerate()
            .filter(move |(_, i)| i.account == account)
            .map(|(n, _)| n)
    }
}

/// A stable 64-bit hash of an item id (FNV-1a): seeds the item's grain.
fn hash_id(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn item_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let tail: String = (0..38)
        .map(|_| ALPHABET[rng.below(64) as usize] as char)
        .collect();
    format!("AF1Qip{tail}")
}

fn build_item(rng: &mut Rng, plan: &Plan, oddity: Oddity, config: &EmulatorConfig) -> Item {
    let large_size = config.large_file_size;
    let id = item_id(rng);
    let scene = Scene::random(rng);
    let camera: &Camera = match oddity {
        Oddity::HeicNamedJpeg | Oddity::PngExif | Oddity::TimeZoneShift => &IPHONE,
        Oddity::MakerNoteAbsolute => &CANON,
        Oddity::BigEndian => &NIKON,
        Oddity::WebpExifPrefix => &PIXEL,
        _ => rng.pick(plan.cameras),
    };
    // A random second within the plan's years.
    let start = TimeZone::UTC.to_timestamp(jiff::civil::date(plan.years.0, 1, 1).at(0, 0, 0, 0));
    let end = TimeZone::UTC.to_timestamp(jiff::civil::date(plan.years.1, 12, 31).at(0, 0, 0, 0));
    let (start, end) = match (start, end) {
        (Ok(s), Ok(e)) => (s.as_second(), e.as_second()),
        _ => (1_500_000_000, 1_700_000_000),
    };
    let mut create_time =
        Timestamp::from_second(rng.range(start, end)).unwrap_or(Timestamp::UNIX_EPOCH);
    if oddity == Oddity::TimeZoneShift {
        // Summer, so Madrid is at +02:00.
        let year = TimeZone::UTC.to_datetime(create_time).year();
        let day = rng.range(0, 60);
        let at =
            jiff::civil::date(year, 6, 20).at(rng.range(7, 17) as i8, rng.range(0, 59) as i8, 0, 0);
        if let Ok(t) = TimeZone::UTC.to_timestamp(at) {
            create_time = t
                .checked_add(jiff::SignedDuration::from_hours(24 * day))
                .unwrap_or(create_time);
        }
    }
    let offset_hours = if oddity == Oddity::TimeZoneShift {
        TRIP_OFFSET_HOURS
    } else {
        HOME_OFFSET_HOURS
    };
    let offset = Offset::constant(offset_hours);
    let local = TimeZone::fixed(offset).to_datetime(create_time);
    let counter = 1000 + rng.below(8999) as u32;

    let is_video = oddity.is_video();
    let (width, height) = if is_video {
        if rng.below(3) == 0 {
            (360, 640)
        } else {
            (640, 360)
        }
    } else if matches!(oddity, Oddity::PngNoExif) {
        (360, 780)
    } else {
        *rng.pick(camera.sizes)
    };

    let is_jpeg = !is_video
        && !matches!(
            oddity,
            Oddity::PngExif | Oddity::PngNoExif | Oddity::WebpExifPrefix
        );
    // Drawn after every random choice, so a seed gives the same items whatever the size.
    let (width, height) = match config.photo_size {
        Some(target) if is_jpeg => raster::grainy_dimensions(width, height, target),
        _ => (width, height),
    };

    let stamp = local.strftime("%Y%m%d_%H%M%S").to_string();
    let filename = match oddity {
        Oddity::HeicNamedJpeg => format!("IMG_{counter}.HEIC"),
        Oddity::PngExif => format!("IMG_{counter}.PNG"),
        Oddity::PngNoExif => format!("Screenshot_{}.png", local.strftime("%Y%m%d-%H%M%S")),
        Oddity::WebpExifPrefix => format!("PXL_{stamp}{:03}.webp", rng.below(1000)),
        Oddity::NoExif => format!(
            "IMG-{}-WA{:04}.jpg",
            local.strftime("%Y%m%d"),
            rng.below(100)
        ),
        Oddity::LargeMp4 => format!("VID_{stamp}_4K.mp4"),
        o if o.is_video() => format!("VID_{stamp}.mp4"),
        _ => match camera.make {
            "Apple" => format!("IMG_{counter}.JPG"),
            "Google" => format!("PXL_{stamp}{:03}.jpg", rng.below(1000)),
            "samsung" => format!("{stamp}.jpg"),
            "NIKON CORPORATION" => format!("DSC_{counter}.JPG"),
            "FUJIFILM" => format!("DSCF{counter}.JPG"),
            _ => format!("IMG_{counter}.JPG"),
        },
    };

    let mime_type = match oddity {
        Oddity::HeicNamedJpeg => "image/heif",
        Oddity::PngExif | Oddity::PngNoExif => "image/png",
        Oddity::WebpExifPrefix => "image/webp",
        o if o.is_video() => "video/mp4",
        _ => "image/jpeg",
    };

    if is_video {
        let (timescale, frame_ticks) =
            *rng.pick(&[(30000u32, 1001u32), (30000, 1000), (60000, 1001)]);
        let fps = f64::from(timescale) / f64::from(frame_ticks);
        let seconds = rng.range(3, 12) as u32;
        let frames = (fps * f64::from(seconds)).round() as u32;
        // The large videos carry zeroed dates too, as phone exports often do: so
        // the app's streaming path (patching moov as the file goes by) has work.
        let mac_time = if matches!(oddity, Oddity::Mp4ZeroDates | Oddity::LargeMp4) {
            0
        } else {
            u64::try_from(create_time.as_second()).unwrap_or(0) + MAC_EPOCH_OFFSET
        };
        let mut spec = VideoSpec {
            mac_time,
            width: width as u16,
            height: height as u16,
            timescale,
            frame_ticks,
            frames,
            payload_len: 120_000 + rng.below(200_000),
            payload_seed: rng.next_u64(),
        };
        if oddity == Oddity::LargeMp4 {
            spec.payload_len = large_size;
            spec.payload_len = large_size.saturating_sub(spec.head().len() as u64);
        }
        let status = if oddity == Oddity::Mp4Processing {
            ProcessingStatus::Processing
        } else {
            ProcessingStatus::Ready
        };
        let metadata = MediaFileMetadata {
            width: Some(i64::from(width)),
            height: Some(i64::from(height)),
            video_metadata: Some(VideoMetadata {
                fps: Some((fps * 100.0).round() / 100.0),
                processing_status: status,
            }),
            ..MediaFileMetadata::default()
        };
        return Item {
            id,
            account: plan.account,
            filename,
            mime_type,
            kind: MediaType::Video,
            create_time,
            width,
            height,
            oddity,
            software: None,
            metadata,
            scene,
            content: Content::Video(spec),
            cache: OnceLock::new(),
            spill: None,
        };
    }

    // Photos.
    let exposure_denominator = *rng.pick(&[30u32, 60, 125, 250, 500, 1000, 1181, 2000]);
    let iso = *rng.pick(&[32u16, 50, 100, 200, 400, 800]);
    let software = match oddity {
        Oddity::NoExif | Oddity::PngNoExif => None,
        // Mostly Google's pipeline, sometimes camera firmware: removing it is
        // the product's first job.
        _ => match rng.below(8) {
            0..=2 => Some("Picasa".to_owned()),
            3..=5 => Some("Google".to_owned()),
            _ => Some(camera.firmware.to_owned()),
        },
    };
    let has_exif = !matches!(oddity, Oddity::NoExif | Oddity::PngNoExif);
    let tiff = has_exif.then(|| {
        let endian = if oddity == Oddity::BigEndian {
            Endian::Big
        } else {
            Endian::Little
        };
        let params = ExifParams {
            camera,
            oddity,
            software: software.as_deref(),
            local,
            offset,
            subsec: rng.below(1000) as u32,
            exposure_denominator,
            iso,
            width,
            height,
        };
        exif::build_tiff(endian, &exif_ifd0(&params))
    });
    let content = match oddity {
        Oddity::PngExif => Content::Png { exif: tiff },
        Oddity::PngNoExif => Content::Png { exif: None },
        Oddity::WebpExifPrefix => Content::Webp {
            exif: [b"Exif\0\0".as_slice(), tiff.as_deref().unwrap_or_default()].concat(),
        },
        _ => Content::Jpeg {
            app1: tiff.map(|t| [b"Exif\0\0".as_slice(), &t].concat()),
            grain: config.photo_size.is_some(),
        },
    };
    let metadata = if has_exif {
        MediaFileMetadata {
            width: Some(i64::from(width)),
            height: Some(i64::from(height)),
            camera_make: Some(camera.make.to_owned()),
            camera_model: Some(camera.model.to_owned()),
            photo_metadata: Some(PhotoMetadata {
                focal_length: Some(f64::from(camera.focal.0) / f64::from(camera.focal.1)),
                aperture_f_number: Some(
                    f64::from(camera.f_number.0) / f64::from(camera.f_number.1),
                ),
                iso_equivalent: Some(i64::from(iso)),
                exposure_time: Some(picker::Duration(Duration::from_nanos(
                    (1e9 / f64::from(exposure_denominator)).round() as u64,
                ))),
            }),
            video_metadata: None,
        }
    } else {
        MediaFileMetadata {
            width: Some(i64::from(width)),
            height: Some(i64::from(height)),
            ..MediaFileMetadata::default()
        }
    };
    Item {
        id,
        account: plan.account,
        filename,
        mime_type,
        kind: MediaType::Photo,
        create_time,
        width,
        height,
        oddity,
        software,
        metadata,
        scene,
        content,
        cache: OnceLock::new(),
        spill: None,
    }
}

struct ExifParams<'a> {
    camera: &'a Camera,
    oddity: Oddity,
    software: Option<&'a str>,
    local: jiff::civil::DateTime,
    offset: Offset,
    subsec: u32,
    exposure_denominator: u32,
    iso: u16,
    width: u32,
    height: u32,
}

fn exif_ifd0(p: &ExifParams<'_>) -> Vec<Entry> {
    let ascii = |s: &str| Value::Ascii(s.to_owned());
    let has_date = p.oddity != Oddity::NoDateTimeOriginal;
    let date = exif_datetime(p.local);
    // Phones write the offset; cameras of this age do not; the trip photo is the
    // phone with its offset lost (as after some editors).
    let write_offset = p.camera.phone && p.oddity != Oddity::TimeZoneShift;
    let offset_text = {
        let secs = p.offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        format!(
            "{sign}{:02}:{:02}",
            secs.abs() / 3600,
            secs.abs() % 3600 / 60
        )
    };

    let mut exif_ifd = vec![
        Entry::new(
            tag::EXPOSURE_TIME,
            Value::Rational(vec![(1, p.exposure_denominator)]),
        ),
        Entry::new(tag::F_NUMBER, Value::Rational(vec![p.camera.f_number])),
        Entry::new(tag::ISO, Value::Short(vec![p.iso])),
        Entry::new(tag::EXIF_VERSION, Value::Undefined(b"0232".to_vec())),
    ];
    if has_date {
        exif_ifd.push(Entry::new(tag::DATE_TIME_ORIGINAL, ascii(&date)));
        if p.oddity == Oddity::DuplicateTags {
            exif_ifd.push(Entry::new(tag::DATE_TIME_ORIGINAL, ascii(&date)));
        }
        exif_ifd.push(Entry::new(tag::DATE_TIME_DIGITIZED, ascii(&date)));
        if write_offset {
            exif_ifd.push(Entry::new(tag::OFFSET_TIME, ascii(&offset_text)));
            exif_ifd.push(Entry::new(tag::OFFSET_TIME_ORIGINAL, ascii(&offset_text)));
        }
    }
    exif_ifd.push(Entry::new(
        tag::COMPONENTS_CONFIGURATION,
        Value::Undefined(vec![1, 2, 3, 0]),
    ));
    exif_ifd.push(Entry::new(
        tag::FOCAL_LENGTH,
        Value::Rational(vec![p.camera.focal]),
    ));
    if p.oddity == Oddity::MakerNoteAbsolute {
        exif_ifd.push(Entry::new(
            tag::MAKER_NOTE,
            Value::MakerNoteAbsolute(vec![
                // Canon CameraSettings-like SHORT array (its first value is its
                // own length in bytes), FocalLength, ImageType, FirmwareVersion:
                // out-of-line values, so the offsets matter.
                Entry::new(
                    0x0001,
                    Value::Short(vec![26, 2, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0]),
                ),
                Entry::new(0x0002, Value::Short(vec![0, 35, 0, 0])),
                Entry::new(0x0006, ascii("Canon EOS 80D")),
                Entry::new(0x0007, ascii(p.camera.firmware)),
            ]),
        ));
    }
    if has_date && p.camera.phone {
        exif_ifd.push(Entry::new(
            tag::SUB_SEC_TIME_ORIGINAL,
            ascii(&format!("{:03}", p.subsec)),
        ));
    }
    exif_ifd.push(Entry::new(
        tag::FLASHPIX_VERSION,
        Value::Undefined(b"0100".to_vec()),
    ));
    exif_ifd.push(Entry::new(tag::COLOR_SPACE, Value::Short(vec![1])));
    exif_ifd.push(Entry::new(
        tag::PIXEL_X_DIMENSION,
        Value::Long(vec![p.width]),
    ));
    exif_ifd.push(Entry::new(
        tag::PIXEL_Y_DIMENSION,
        Value::Long(vec![p.height]),
    ));
    exif_ifd.push(Entry::new(
        tag::SCENE_TYPE,
        if p.oddity == Oddity::SceneTypeShort {
            Value::Short(vec![1])
        } else {
            Value::Undefined(vec![1])
        },
    ));

    let mut ifd0 = vec![Entry::new(tag::MAKE, ascii(p.camera.make))];
    if p.oddity == Oddity::DuplicateTags {
        ifd0.push(Entry::new(tag::MAKE, ascii(p.camera.make)));
    }
    ifd0.extend([
        Entry::new(tag::MODEL, ascii(p.camera.model)),
        Entry::new(tag::ORIENTATION, Value::Short(vec![1])),
        Entry::new(tag::X_RESOLUTION, Value::Rational(vec![(72, 1)])),
        Entry::new(tag::Y_RESOLUTION, Value::Rational(vec![(72, 1)])),
        Entry::new(tag::RESOLUTION_UNIT, Value::Short(vec![2])),
    ]);
    if let Some(software) = p.software {
        ifd0.push(Entry::new(tag::SOFTWARE, ascii(software)));
    }
    if has_date {
        ifd0.push(Entry::new(tag::DATE_TIME, ascii(&date)));
    }
    ifd0.push(Entry::new(tag::YCBCR_POSITIONING, Value::Short(vec![1])));
    ifd0.push(Entry::new(tag::EXIF_IFD, Value::SubIfd(exif_ifd)));
    ifd0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_is_deterministic_and_big_enough() {
        let config = EmulatorConfig::default();
        let a = Library::generate(&config);
        let b = Library::generate(&config);
        assert!(a.items().len() >= 60, "{} items", a.items().len());
        let ids_a: Vec<_> = a.items().iter().map(|i| &i.id).collect();
        let ids_b: Vec<_> = b.items().iter().map(|i| &i.id).collect();
        assert_eq!(ids_a, ids_b);
        let other = Library::generate(&EmulatorConfig {
            seed: 1,
            ..EmulatorConfig::default()
        });
        assert_ne!(other.items()[0].id, a.items()[0].id);
    }

    #[test]
    fn ids_are_unique() {
        let lib = Library::generate(&EmulatorConfig::default());
        let mut ids: Vec<_> = lib.items().iter().map(|i| i.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), lib.items().len());
    }

    #[test]
    fn every_oddity_is_present() {
        let lib = Library::generate(&EmulatorConfig::default());
        for o in [
            Oddity::Plain,
            Oddity::NoDateTimeOriginal,
            Oddity::SceneTypeShort,
            Oddity::DuplicateTags,
            Oddity::MakerNoteAbsolute,
            Oddity::BigEndian,
            Oddity::HeicNamedJpeg,
            Oddity::PngExif,
            Oddity::PngNoExif,
            Oddity::WebpExifPrefix,
            Oddity::TimeZoneShift,
            Oddity::NoExif,
            Oddity::Mp4,
            Oddity::Mp4ZeroDates,
            Oddity::Mp4Processing,
            Oddity::LargeMp4,
        ] {
            assert!(lib.items().iter().any(|i| i.oddity == o), "{o:?} missing");
        }
        let photos = lib
            .items()
            .iter()
            .filter(|i| i.kind == MediaType::Photo)
            .count();
        let with_software = lib
            .items()
            .iter()
            .filter(|i| matches!(i.software.as_deref(), Some("Picasa" | "Google")))
            .count();
        assert!(
            with_software * 2 > photos,
            "{with_software} of {photos} photos carry Google's Software tag"
        );
    }

    #[test]
    fn large_files_have_the_configured_size() {
        let config = EmulatorConfig {
            large_file_count: 1,
            large_file_size: 1 << 20,
            ..EmulatorConfig::default()
        };
        let lib = Library::generate(&config);
        let large = lib
            .items()
            .iter()
            .find(|i| i.oddity == Oddity::LargeMp4)
            .unwrap();
        assert_eq!(large.original().unwrap().len(), 1 << 20);
    }

    #[test]
    fn photo_size_makes_photos_about_that_large_and_changes_nothing_else() {
        let small = Library::generate(&EmulatorConfig::default());
        let target = 1 << 20;
        let large = Library::generate(&EmulatorConfig {
            photo_size: Some(target),
            ..EmulatorConfig::default()
        });
        assert_eq!(small.items().len(), large.items().len());
        let mut sizes = Vec::new();
        for (a, b) in small.items().iter().zip(large.items()) {
            // Same seed, same items: ids, names, times, oddities, software.
            assert_eq!(
                (&a.id, &a.filename, a.create_time, a.oddity, &a.software),
                (&b.id, &b.filename, b.create_time, b.oddity, &b.software)
            );
            // Encoding is slow in debug builds: a handful of photos is enough.
            if !matches!(b.content, Content::Jpeg { .. }) || b.account != 0 || sizes.len() == 6 {
                continue;
            }
            let bytes = match b.original().unwrap() {
                Original::Whole(bytes) => bytes,
                Original::Streamed { .. } => panic!("photos are whole"),
            };
            assert!(bytes.starts_with(&[0xff, 0xd8]));
            // The metadata Google reports follows the pixels.
            assert_eq!(b.metadata().width, Some(i64::from(b.width)));
            assert!(b.width > a.width && b.height > a.height);
            // Only the pixel size moves: EXIF or not, as in the small sample.
            let has_exif = |c: &Content| matches!(c, Content::Jpeg { app1: Some(_), .. });
            assert_eq!(has_exif(&a.content), has_exif(&b.content));
            sizes.push(bytes.len() as f64);
        }
        assert_eq!(sizes.len(), 6, "{sizes:?}");
        let mean = sizes.iter().sum::<f64>() / sizes.len() as f64;
        let ratio = mean / target as f64;
        assert!(
            (0.7..1.4).contains(&ratio),
            "mean photo {mean:.0} bytes for a {target}-byte target ({ratio:.2}×): recalibrate \
             GRAINY_JPEG_BYTES_PER_PIXEL"
        );
    }

    #[test]
    fn originals_sniff_as_what_they_are() {
        let lib = Library::generate(&EmulatorConfig {
            large_file_count: 0,
            ..EmulatorConfig::default()
        });
        for item in lib.items() {
            let Original::Whole(bytes) = item.original().unwrap() else {
                panic!("small items are whole")
            };
            let sniffed = if bytes.starts_with(&[0xff, 0xd8]) {
                "jpeg"
            } else if bytes.starts_with(b"\x89PNG") {
                "png"
            } else if bytes.get(8..12) == Some(b"WEBP") {
                "webp"
            } else if bytes.get(4..8) == Some(b"ftyp") {
                "mp4"
            } else {
                "unknown"
            };
            let expected = match item.mime_type {
                "image/jpeg" | "image/heif" => "jpeg",
                "image/png" => "png",
                "image/webp" => "webp",
                "video/mp4" => "mp4",
                other => other,
            };
            assert_eq!(sniffed, expected, "{} ({:?})", item.filename, item.oddity);
        }
    }

    #[test]
    fn thumbnails_fit_and_crop() {
        let lib = Library::generate(&EmulatorConfig::default());
        let item = &lib.items()[0];
        let jpeg = item.thumbnail(64, 64, true).unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
        // SOF0 carries height then width.
        let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        let h = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
        let w = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
        assert_eq!((w, h), (64, 64));
    }
}
