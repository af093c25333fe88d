//! The batch zip against the readers people use, from outside: readers that
//! unzip as the bytes arrive through a pipe (bsdtar, Python's stream-unzip),
//! which see only the local headers, and readers that use the central directory
//! (unzip, 7z, Python's `zipfile`), on a zip with an entry of more than 4 GiB and
//! an entry past the 4 GiB offset, and on a zip of 70,000 entries (ZIP64 end
//! records). Every entry must come out with its size and CRC-32.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use api::SavedFile;
use futures_util::StreamExt;
use helper::library::batch_zip::ZipPlan;
use keepsake_tests::{skip_or_fail, which, workspace_root};

/// What the index would say of `path` under `dir`.
fn saved(dir: &Path, path: &str, i: usize) -> SavedFile {
    let full = dir.join(path);
    SavedFile {
        item_id: format!("item{i}").parse().unwrap(),
        path: path.to_owned(),
        size: std::fs::metadata(&full).unwrap().len(),
        sha256: String::new(),
        capture_time: None,
        capture_local: Some(jiff::civil::date(2019, 7, 14).at(11, 31, 12, 0)),
        crc32: Some(helper::library::store::crc32_of(&full).unwrap()),
        batch: "b1".parse().unwrap(),
        saved_at: jiff::Timestamp::now(),
        missing: false,
    }
}

/// Writes the zip of `files` to `out`; checks its length is the one announced.
async fn write_zip(dir: &Path, files: Vec<SavedFile>, out: &Path) {
    let plan = ZipPlan::of_files(dir, files).unwrap();
    let announced = plan.len();
    let mut stream = Box::pin(plan.stream());
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out).unwrap());
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        written += chunk.len() as u64;
        file.write_all(&chunk).unwrap();
    }
    file.flush().unwrap();
    assert_eq!(written, announced, "Content-Length is the archive's length");
}

/// Runs `sh -c SCRIPT` with `ZIP` set; its stdout, or a failure with stderr.
fn shell(script: &str, zip: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("ZIP", zip)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The readers, or `None` (after saying why) when one is missing.
fn readers() -> Option<PathBuf> {
    let python = workspace_root().join("target/python-venv/bin/python");
    for tool in ["bsdtar", "unzip", "7z"] {
        if which(tool).is_none() {
            skip_or_fail(
                "KEEPSAKE_REQUIRE_BROWSER",
                &format!("{tool} is not installed: run ./scripts/setup"),
            );
            return None;
        }
    }
    if !python.exists() {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_PYTHON",
            "stream-unzip is not installed: run ./scripts/setup",
        );
        return None;
    }
    Some(python)
}

/// Reads `zip` with every reader and checks each finds exactly `files`.
fn check_with_every_reader(python: &Path, zip: &Path, files: &[SavedFile]) {
    let name = |f: &SavedFile| f.path.rsplit('/').next().unwrap().to_owned();
    // 1. bsdtar from a pipe: lists every entry with its size, and extracts them
    //    all (libarchive checks each CRC-32) without an error.
    let listing = shell("cat \"$ZIP\" | bsdtar -tvf -", zip);
    let listed: Vec<(String, u64)> = listing
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[8..].join(" "), fields[4].parse().unwrap())
        })
        .collect();
    let want: Vec<(String, u64)> = files.iter().map(|f| (name(f), f.size)).collect();
    assert_eq!(
        listed.len(),
        want.len(),
        "bsdtar from a pipe lists every entry"
    );
    assert_eq!(listed, want, "bsdtar from a pipe: names and sizes");
    shell("cat \"$ZIP\" | bsdtar -xOf - > /dev/null", zip);

    // 2. stream-unzip from a pipe: every entry's bytes, and their CRC-32.
    let script = workspace_root().join("tests/python/zip_stream_check.py");
    let json = shell(
        &format!(
            "cat \"$ZIP\" | '{}' '{}'",
            python.display(),
            script.display()
        ),
        zip,
    );
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(entries.len(), files.len(), "stream-unzip reads every entry");
    for (entry, file) in entries.iter().zip(files) {
        assert_eq!(entry["name"], name(file).as_str());
        assert_eq!(entry["size"], file.size, "{}", file.path);
        assert_eq!(
            entry["declared"], file.size,
            "{}: the local header's size",
            file.path
        );
        assert_eq!(entry["crc32"], file.crc32.unwrap(), "{}", file.path);
    }

    // 3. Readers of the central directory.
    let tested = shell("unzip -t \"$ZIP\"", zip);
    assert!(tested.contains("No errors detected"), "{tested}");
    let tested = shell("7z t \"$ZIP\"", zip);
    assert!(tested.contains("Everything is Ok"), "{tested}");
    let count = shell(
        "python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
         assert z.testzip() is None; print(len(z.infolist()), sum(i.file_size for i in z.infolist()))' \"$ZIP\"",
        zip,
    );
    let total: u64 = files.iter().map(|f| f.size).sum();
    assert_eq!(
        count.trim(),
        format!("{} {total}", files.len()),
        "Python's zipfile"
    );
}

/// An entry of more than 4 GiB (a sparse file, so nothing large is written but
/// the zip) between two small ones, the last past the 4 GiB offset.
#[tokio::test(flavor = "multi_thread")]
async fn a_zip_past_4_gib_reads_whole_in_streaming_and_directory_readers() {
    let Some(python) = readers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("first.jpg"), b"\xFF\xD8\xFFfirst photo").unwrap();
    let big = std::fs::File::create(dir.path().join("long video.mp4")).unwrap();
    let size = (4u64 << 30) + (1 << 20) + 7;
    big.set_len(size).unwrap();
    // Bytes at both ends, so the CRC-32 is not that of zeros alone.
    std::os::unix::fs::FileExt::write_all_at(&big, b"\0\0\0\x18ftypmp42", 0).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&big, b"the end", size - 7).unwrap();
    drop(big);
    std::fs::write(dir.path().join("after.jpg"), b"\xFF\xD8\xFFafter the video").unwrap();
    let files: Vec<SavedFile> = ["first.jpg", "long video.mp4", "after.jpg"]
        .iter()
        .enumerate()
        .map(|(i, p)| saved(dir.path(), p, i))
        .collect();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("batch.zip");
    write_zip(dir.path(), files.clone(), &zip).await;
    assert!(std::fs::metadata(&zip).unwrap().len() > size);
    check_with_every_reader(&python, &zip, &files);
}

/// 70,000 entries: more than the 65,535 a zip's own end record can count, so the
/// ZIP64 end records say how many.
#[tokio::test(flavor = "multi_thread")]
async fn a_zip_of_70000_entries_reads_whole_in_streaming_and_directory_readers() {
    let Some(python) = readers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<SavedFile> = (0..70_000)
        .map(|i| {
            let path = format!("IMG_{i:05}.jpg");
            std::fs::write(dir.path().join(&path), format!("\u{FF}photo {i}")).unwrap();
            saved(dir.path(), &path, i)
        })
        .collect();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("batch.zip");
    write_zip(dir.path(), files.clone(), &zip).await;
    check_with_every_reader(&python, &zip, &files);
}
