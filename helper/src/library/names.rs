//! File and folder names in the library: names that are safe on every common file
//! system, the `<YYYY>/<MM>` folder of a capture, and "name (2).jpg" for a name
//! that is taken.

use jiff::civil::DateTime;

/// Longest file name written, in bytes (leaves room under the usual 255-byte limit
/// for " (9999)" and a temp file's prefix).
const MAX_NAME_BYTES: usize = 180;

/// A file name that is safe on every common file system: no directories, no
/// control or reserved characters, no leading dots, at most 180 bytes.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut out = String::new();
    for c in trimmed.chars() {
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    if out.is_empty() || !out.chars().any(|c| c != '.') {
        "photo".to_owned()
    } else {
        out
    }
}

/// `"2019/07"`: the folder of a capture, by the photographer's own calendar.
pub fn capture_folder(local: DateTime) -> String {
    format!("{:04}/{:02}", local.year(), local.month())
}

/// The name to try on the `attempt`th try: `a.jpg`, then `a (2).jpg`, `a (3).jpg`…
pub fn numbered(filename: &str, attempt: u32) -> String {
    if attempt <= 1 {
        return filename.to_owned();
    }
    let (stem, extension) = split_extension(filename);
    format!("{stem} ({attempt}){extension}")
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
    fn filenames_lose_paths_and_reserved_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_filename("a:b*c?.jpg"), "a_b_c_.jpg");
        assert_eq!(sanitize_filename(".."), "photo");
        assert_eq!(sanitize_filename(".hidden.jpg"), "hidden.jpg");
        assert_eq!(sanitize_filename(""), "photo");
        assert!(sanitize_filename(&"é".repeat(300)).len() <= MAX_NAME_BYTES);
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
    }
}
