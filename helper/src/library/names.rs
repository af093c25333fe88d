//! File and folder names in the library: names that are safe on every common file
//! system (the library is often shared over SMB or copied to a Windows disk), the
//! `<YYYY>/<MM>` folder of a capture, and "name (2).jpg" for a name that is taken.

use jiff::civil::DateTime;

/// Longest file name written, in bytes (leaves room under the usual 255-byte limit
/// for " (9999)" and a temp file's prefix).
pub const MAX_NAME_BYTES: usize = 180;

/// Longest extension kept whole when a long name is shortened; a longer "extension"
/// is just part of the name.
const MAX_EXTENSION_BYTES: usize = 16;

/// The name used when nothing of the client's name survives cleaning.
const FALLBACK_NAME: &str = "photo";

/// The folder of captures whose year is outside [`PLAUSIBLE_YEARS`].
pub const UNKNOWN_DATE_FOLDER: &str = "unknown-date";

/// Capture years filed under `<YYYY>/<MM>`; anything else (a camera clock at 0000,
/// a corrupt 9999) goes to [`UNKNOWN_DATE_FOLDER`] rather than making a folder for it.
pub const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i16> = 1800..=2200;

/// A file name that is safe on every common file system: no directories, no control,
/// format (bidi, zero-width) or reserved characters, no leading dots, no trailing dots
/// or spaces, not a Windows device name, at most [`MAX_NAME_BYTES`] bytes with the
/// extension kept.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        // Invisible characters go: `photo\u{202E}gpj.exe` must not show as `photoexe.jpg`.
        .filter(|&c| !is_format_character(c))
        .map(|c| {
            if c.is_control()
                || matches!(
                    c,
                    '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{2028}' | '\u{2029}'
                )
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = trim_name(cleaned.trim_start_matches(|c: char| c == '.' || c.is_whitespace()));
    if trimmed.is_empty() {
        return FALLBACK_NAME.to_owned();
    }
    let (stem, extension) = match split_extension(trimmed) {
        (stem, extension) if extension.len() <= MAX_EXTENSION_BYTES => (stem, extension),
        _ => (trimmed, ""),
    };
    let stem = trim_name(stem);
    let stem = if stem.is_empty() { FALLBACK_NAME } else { stem };
    // `CON.jpg` opens the console on Windows, whatever follows the first dot.
    let device = is_windows_device_name(stem);
    let prefix = if device { "_" } else { "" };
    let room = MAX_NAME_BYTES - extension.len() - prefix.len();
    let stem = trim_name(truncate_to(stem, room));
    let stem = if stem.is_empty() { FALLBACK_NAME } else { stem };
    format!("{prefix}{stem}{extension}")
}

/// Without trailing dots and spaces (Windows drops them, so `a.jpg.` and `a.jpg`
/// would be one file there).
fn trim_name(name: &str) -> &str {
    name.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character.
fn truncate_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Unicode's format characters (general category Cf: bidi controls, zero-width
/// characters, the soft hyphen, invisible operators, tags). They change how a name
/// looks without showing themselves, and `char::is_control` (Cc) misses them.
pub fn is_format_character(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// Whether Windows reads `stem` (the name up to its first dot) as a device: CON, PRN,
/// AUX, NUL, COM1–9, LPT1–9 (and their superscript-digit forms), CONIN$, CONOUT$, in
/// any case, with any trailing spaces.
pub fn is_windows_device_name(stem: &str) -> bool {
    let first = stem.split('.').next().unwrap_or(stem).trim_end_matches(' ');
    let upper = first.to_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let Some(digit) = upper
                .strip_prefix("COM")
                .or_else(|| upper.strip_prefix("LPT"))
            else {
                return false;
            };
            let mut chars = digit.chars();
            matches!(
                (chars.next(), chars.next()),
                (Some('1'..='9' | '\u{00B9}' | '\u{00B2}' | '\u{00B3}'), None)
            )
        }
    }
}

/// `"2019/07"`: the folder of a capture, by the photographer's own calendar; a year
/// outside [`PLAUSIBLE_YEARS`] is filed as [`UNKNOWN_DATE_FOLDER`].
pub fn capture_folder(local: DateTime) -> String {
    if PLAUSIBLE_YEARS.contains(&local.year()) {
        format!("{:04}/{:02}", local.year(), local.month())
    } else {
        UNKNOWN_DATE_FOLDER.to_owned()
    }
}

/// The name to try on the `attempt`th try: `a.jpg`, then `a (2).jpg`, `a (3).jpg`…
pub fn numbered(filename: &str, attempt: u32) -> String {
    if attempt <= 1 {
        return filename.to_owned();
    }
    let (stem, extension) = split_extension(filename);
    format!("{stem} ({attempt}){extension}")
}

/// How many of a file's first bytes [`fit_extension`] looks at.
pub const SNIFF_BYTES: usize = 512;

/// The extensions a file starting with `head` may be saved under, the usual one
/// first: the photo and video kinds metafix detects, the camera raw formats built
/// on TIFF or ISO BMFF, and the other media Google Photos keeps (GIF, BMP, WebM and
/// MKV, AVI, WMV, MPEG program and transport streams). `None` when the bytes are
/// none of them.
fn kind_extensions(head: &[u8]) -> Option<&'static [&'static str]> {
    use metafix::Format;
    let at = |range: std::ops::Range<usize>| head.get(range).unwrap_or(&[]);
    // Raw formats whose first bytes other kinds share or that metafix does not know.
    if at(4..12) == b"ftypcrx " {
        return Some(&["cr3"]);
    }
    if head.starts_with(b"FUJIFILMCCD-RAW") {
        return Some(&["raf"]);
    }
    if [b"IIRO", b"IIRS", b"MMOR"]
        .iter()
        .any(|m| head.starts_with(*m))
    {
        return Some(&["orf"]);
    }
    if head.starts_with(b"IIU\0") {
        return Some(&["rw2", "raw"]);
    }
    Some(match Format::detect(head) {
        Format::Jpeg => &["jpg", "jpeg", "jpe", "jfif", "mpo"],
        Format::Png => &["png"],
        Format::Webp => &["webp"],
        Format::Heic => &["heic", "heif", "hif"],
        Format::Avif => &["avif"],
        // TIFF, and the camera raw formats that are TIFF inside.
        Format::Tiff => &[
            "tif", "tiff", "dng", "nef", "nrw", "cr2", "arw", "srf", "sr2", "pef", "srw", "3fr",
            "erf", "kdc", "mef", "mos", "iiq", "rwl",
        ],
        Format::Mp4 => &["mp4", "m4v", "3gp", "3g2"],
        Format::Mov => &["mov", "qt"],
        Format::Unknown => {
            if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
                &["gif"]
            } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
                &["webm", "mkv"]
            } else if head.starts_with(b"RIFF") && at(8..12) == b"AVI " {
                &["avi", "divx"]
            } else if head.starts_with(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
                &["wmv", "asf"]
            } else if head.starts_with(&[0, 0, 1, 0xBA]) {
                &["mpg", "mpeg", "mod", "tod", "vob"]
            } else if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
                &["ts", "mts", "m2ts", "m2t"]
            } else if head.get(4) == Some(&0x47) && head.get(196) == Some(&0x47) {
                // A Blu-ray/AVCHD stream: 4 bytes of time code before each packet.
                &["m2ts", "mts"]
            } else if head.starts_with(b"BM") && at(6..10) == [0, 0, 0, 0] {
                &["bmp"]
            } else {
                return None;
            }
        }
    })
}

/// `filename` (sanitized) with an extension that says what its bytes are, `head`
/// being their first [`SNIFF_BYTES`]: kept when it fits them (any case), else the
/// kind's usual one in its place (`photo.html` holding a JPEG is `photo.jpg`).
/// Bytes of no photo or video kind keep their name with `.bin` after it
/// (`page.html` is `page.html.bin`): nothing is lost, and nothing lands where a
/// file manager or a share would open it as a page, a program or an image it is not.
pub fn fit_extension(filename: &str, head: &[u8]) -> String {
    let (stem, extension) = split_extension(filename);
    let given = extension.trim_start_matches('.').to_ascii_lowercase();
    match kind_extensions(head) {
        Some(fitting) if fitting.contains(&given.as_str()) => filename.to_owned(),
        Some(fitting) => format!("{stem}.{}", fitting[0]),
        None => format!("{filename}.bin"),
    }
}

/// `("a.b", ".jpg")` for `"a.b.jpg"`; a leading dot is not an extension.
pub fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_name_ends_in_what_its_bytes_are() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        let mut mp4 = vec![0, 0, 0, 24];
        mp4.extend_from_slice(b"ftypisom\0\0\0\0isommp42");
        let mut cr3 = vec![0, 0, 0, 24];
        cr3.extend_from_slice(b"ftypcrx \0\0\0\0crx isom");
        let cases: &[(&str, &[u8], &str)] = &[
            ("IMG_1.JPG", &jpeg, "IMG_1.JPG"),
            ("IMG_1.jpeg", &jpeg, "IMG_1.jpeg"),
            ("photo.html", &jpeg, "photo.jpg"),
            ("photo.svg", &jpeg, "photo.jpg"),
            ("photo", &jpeg, "photo.jpg"),
            ("IMG_2.HEIC", &jpeg, "IMG_2.jpg"),
            ("clip.exe", &mp4, "clip.mp4"),
            ("VID.MP4", &mp4, "VID.MP4"),
            ("IMG_3.CR3", &cr3, "IMG_3.CR3"),
            ("IMG_3.mp4", &cr3, "IMG_3.cr3"),
            ("raw.DNG", b"II*\0\x08\0\0\0", "raw.DNG"),
            ("anim.gif", b"GIF89a\x01\0", "anim.gif"),
            ("anim.png", b"GIF89a\x01\0", "anim.gif"),
            ("page.html", b"<!doctype html><script>", "page.html.bin"),
            ("image.svg", b"<svg xmlns=", "image.svg.bin"),
            ("setup.exe", b"MZ\x90\0", "setup.exe.bin"),
            ("old.WMV", b"\x30\x26\xB2\x75\x8E\x66\xCF\x11", "old.WMV"),
            ("cam.MOD", b"\0\0\x01\xBA\x44", "cam.MOD"),
            ("scan.bmp", b"BM\x36\x10\0\0\0\0\0\0", "scan.bmp"),
            ("IMG_4.jpg", b"", "IMG_4.jpg.bin"),
        ];
        for (name, head, want) in cases {
            assert_eq!(fit_extension(name, head), *want, "{name}");
        }
        // Transport streams: a sync byte every 188 bytes (192 with a time code).
        let mut ts = vec![0u8; 400];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(fit_extension("00001.MTS", &ts), "00001.MTS");
        let mut m2ts = vec![0u8; 400];
        m2ts[4] = 0x47;
        m2ts[196] = 0x47;
        assert_eq!(fit_extension("00001.m2ts", &m2ts), "00001.m2ts");
        assert_eq!(fit_extension("00001.mp4", &m2ts), "00001.m2ts");
    }

    /// Hostile names a client could send, and what the library writes for each.
    const HOSTILE_NAMES: &[(&str, &str)] = &[
        // Paths and traversal.
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/absolute/path.jpg", "path.jpg"),
        ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
        ("photo.jpg/", "photo"),
        ("..", "photo"),
        ("...", "photo"),
        (".", "photo"),
        ("", "photo"),
        // Reserved and control characters.
        ("a:b*c?.jpg", "a_b_c_.jpg"),
        ("a<b>c|d\"e.jpg", "a_b_c_d_e.jpg"),
        ("nul\0byte.jpg", "nul_byte.jpg"),
        ("line\nbreak\r.jpg", "line_break_.jpg"),
        ("tab\there.jpg", "tab_here.jpg"),
        ("del\u{7f}.jpg", "del_.jpg"),
        ("sep\u{2028}line.jpg", "sep_line.jpg"),
        // Hidden files, trailing dots and spaces, only dots or spaces.
        (".hidden.jpg", "hidden.jpg"),
        (". . .", "photo"),
        ("     ", "photo"),
        ("  spaced.jpg  ", "spaced.jpg"),
        ("trailing.jpg...", "trailing.jpg"),
        ("trailing dot .", "trailing dot"),
        (".keepsake-abc123.part", "keepsake-abc123.part"),
        (".keepsake.sqlite3", "keepsake.sqlite3"),
        // Windows device names, any case, any extension.
        ("CON", "_CON"),
        ("con.jpg", "_con.jpg"),
        ("Nul.tar.gz", "_Nul.tar.gz"),
        ("PRN.txt", "_PRN.txt"),
        ("aux", "_aux"),
        ("COM1.jpg", "_COM1.jpg"),
        ("lpt9.png", "_lpt9.png"),
        ("COM\u{00B9}.jpg", "_COM\u{00B9}.jpg"),
        ("CON .jpg", "_CON.jpg"),
        ("conin$.jpg", "_conin$.jpg"),
        ("COM10.jpg", "COM10.jpg"),
        ("LPT0.jpg", "LPT0.jpg"),
        ("console.jpg", "console.jpg"),
        ("icon.jpg", "icon.jpg"),
        // Bidi and zero-width tricks.
        ("photo\u{202E}gpj.exe", "photogpj.exe"),
        ("\u{202E}fdp.jpg", "fdp.jpg"),
        ("a\u{200B}b\u{200C}c\u{200D}d.jpg", "abcd.jpg"),
        ("\u{FEFF}bom.jpg", "bom.jpg"),
        ("soft\u{00AD}hyphen.jpg", "softhyphen.jpg"),
        ("iso\u{2066}late\u{2069}.jpg", "isolate.jpg"),
        ("arabic\u{061C}mark.jpg", "arabicmark.jpg"),
        ("\u{200B}\u{200B}", "photo"),
        ("\u{200B}.jpg", "jpg"),
        ("\u{202E}CON.jpg", "_CON.jpg"),
        // Ordinary names pass through.
        ("IMG_0001.HEIC.jpg", "IMG_0001.HEIC.jpg"),
        ("Zoë at the beach 🏖.jpg", "Zoë at the beach 🏖.jpg"),
    ];

    #[test]
    fn hostile_filenames_are_cleaned() {
        assert!(HOSTILE_NAMES.len() >= 25);
        for &(input, expected) in HOSTILE_NAMES {
            let cleaned = sanitize_filename(input);
            assert_eq!(cleaned, expected, "for {input:?}");
            // Properties every cleaned name has, whatever the table says.
            assert!(
                !cleaned.is_empty() && cleaned.len() <= MAX_NAME_BYTES,
                "{input:?}"
            );
            assert!(!cleaned.contains(['/', '\\', '\0']), "{input:?}");
            assert!(!cleaned.starts_with('.'), "{input:?}");
            assert!(!cleaned.ends_with(['.', ' ']), "{input:?}");
            assert!(
                !cleaned
                    .chars()
                    .any(|c| c.is_control() || is_format_character(c))
            );
            assert!(!is_windows_device_name(&cleaned), "{input:?}");
            assert_eq!(
                sanitize_filename(&cleaned),
                cleaned,
                "idempotent for {input:?}"
            );
        }
    }

    #[test]
    fn long_names_are_shortened_keeping_the_extension() {
        let long = format!("{}.jpg", "a".repeat(300));
        let cleaned = sanitize_filename(&long);
        assert_eq!(cleaned.len(), MAX_NAME_BYTES);
        assert!(cleaned.ends_with("aaa.jpg"), "{cleaned}");

        // Multi-byte characters are never split.
        let cleaned = sanitize_filename(&format!("{}.jpeg", "é".repeat(300)));
        assert!(
            cleaned.len() <= MAX_NAME_BYTES && cleaned.ends_with("é.jpeg"),
            "{cleaned}"
        );

        // A stem cut right before a space or dot does not end in one.
        let cleaned = sanitize_filename(&format!("{} {}.png", "b".repeat(175), "c".repeat(50)));
        assert_eq!(cleaned, format!("{}.png", "b".repeat(175)));

        // A 300-byte "extension" is not an extension: the name is cut as a whole.
        let cleaned = sanitize_filename(&format!("x.{}", "y".repeat(300)));
        assert_eq!(cleaned.len(), MAX_NAME_BYTES);
        assert!(cleaned.starts_with("x.yyy"), "{cleaned}");

        // A long device name keeps its marker and its extension.
        let cleaned = sanitize_filename(&format!("CON.{}.jpg", "d".repeat(300)));
        assert!(
            cleaned.starts_with("_CON.") && cleaned.ends_with(".jpg"),
            "{cleaned}"
        );
        assert!(cleaned.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn taken_names_are_numbered_before_the_extension() {
        assert_eq!(numbered("a.jpg", 1), "a.jpg");
        assert_eq!(numbered("a.jpg", 2), "a (2).jpg");
        assert_eq!(numbered("a.tar.gz", 3), "a.tar (3).gz");
        assert_eq!(numbered("noext", 2), "noext (2)");
        assert_eq!(numbered(".jpg", 2), ".jpg (2)");
    }

    #[test]
    fn the_folder_is_the_local_year_and_month() {
        let local = DateTime::constant(2019, 7, 14, 23, 31, 12, 0);
        assert_eq!(capture_folder(local), "2019/07");
        let at = |year| DateTime::constant(year, 1, 2, 3, 4, 5, 0);
        assert_eq!(capture_folder(at(1800)), "1800/01");
        assert_eq!(capture_folder(at(2200)), "2200/01");
    }

    #[test]
    fn implausible_capture_years_go_to_unknown_date() {
        for year in [0, 1, 1799, 2201, 9999, -42] {
            let local = DateTime::constant(year, 1, 1, 0, 0, 0, 0);
            assert_eq!(capture_folder(local), UNKNOWN_DATE_FOLDER, "year {year}");
        }
    }
}
