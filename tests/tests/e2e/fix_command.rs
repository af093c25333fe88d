//! `helper fix` on real files: the built binary run on photos from the emulator's
//! sample library (real JPEG/PNG/WebP bytes with Google's metadata defects).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use emulator::EmulatorConfig;
use emulator::library::{Library, Oddity, Original};
use keepsake_tests::{helper_binary, walk_files};
use picker::MediaType;

/// Writes a few sample photos (one per oddity, including a JPEG named `.HEIC`)
/// into `dir/photos/`, and returns their names.
fn sample_photos(dir: &Path) -> Vec<String> {
    let library = Library::generate(&EmulatorConfig {
        large_file_count: 0,
        ..EmulatorConfig::default()
    });
    let photos = dir.join("photos");
    std::fs::create_dir_all(photos.join("nested")).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut written = Vec::new();
    for item in library.items() {
        if item.kind != MediaType::Photo || !seen.insert(item.oddity) {
            continue;
        }
        let Ok(Original::Whole(bytes)) = item.original() else {
            panic!("no bytes for {}", item.filename)
        };
        // One file in a sub-folder, to check that layouts are kept.
        let place = if item.oddity == Oddity::PngNoExif {
            photos.join("nested").join(&item.filename)
        } else {
            photos.join(&item.filename)
        };
        std::fs::write(&place, &bytes).unwrap();
        written.push(item.filename.clone());
    }
    assert!(
        written
            .iter()
            .any(|name| name.to_lowercase().ends_with(".heic")),
        "the sample has a misnamed HEIC"
    );
    written
}

fn helper(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(helper_binary().unwrap())
        .arg("fix")
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk_files(dir) {
        out.insert(
            entry.strip_prefix(dir).unwrap().to_owned(),
            std::fs::read(&entry).unwrap(),
        );
    }
    out
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dry_run_shows_before_and_after_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    sample_photos(dir.path());
    let before = files(dir.path());
    let output = helper(
        &["--dry-run", "--artist", "Ada Lovelace"],
        &[&dir.path().join("photos")],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("Software"), "{text}");
    assert!(text.contains("\"Ada Lovelace\""), "{text}");
    assert!(text.contains("would fix"), "{text}");
    assert_eq!(files(dir.path()), before, "a dry run wrote something");
}

#[test]
fn out_writes_fixed_copies_with_capture_mtimes_and_keeps_originals() {
    let dir = tempfile::tempdir().unwrap();
    sample_photos(dir.path());
    let originals = files(&dir.path().join("photos"));
    let out = dir.path().join("fixed");
    let output = helper(
        &[
            "--out",
            out.to_str().unwrap(),
            "--artist",
            "Ada",
            "--copyright",
            "© Ada",
            "-q",
        ],
        &[&dir.path().join("photos")],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        files(&dir.path().join("photos")),
        originals,
        "originals changed"
    );

    let fixed = files(&out);
    assert_eq!(fixed.len(), originals.len(), "{:?}", fixed.keys());
    assert!(fixed.keys().any(|p| p.starts_with("nested")), "layout kept");
    for (path, bytes) in &fixed {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.to_lowercase().ends_with(".heic"),
            "{name}: misnamed JPEG kept .heic"
        );
        let meta = metafix::read(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(meta.software, None, "{name}");
        assert_eq!(meta.artist.as_deref(), Some("Ada"), "{name}");
        assert_eq!(meta.copyright.as_deref(), Some("© Ada"), "{name}");
        // Files that state their capture time (date and offset) get it as mtime.
        let stated = metafix::fix(
            bytes,
            &metafix::FixOptions::default().with_dates(metafix::DatePolicy::Keep),
            &metafix::ItemContext::default(),
        )
        .capture_time();
        if let Some(instant) = stated {
            let mtime = std::fs::metadata(out.join(path))
                .unwrap()
                .modified()
                .unwrap();
            let expected: std::time::SystemTime = instant.try_into().unwrap();
            assert_eq!(mtime, expected, "{name}");
        }
        // The library's mode, not a temporary file's owner-only one.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "{name}: mode {mode:o}");
        }
    }
}

#[test]
fn out_never_overwrites_and_reports_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    sample_photos(dir.path());
    let out = dir.path().join("fixed");
    let photos = dir.path().join("photos");
    assert!(
        helper(&["--out", out.to_str().unwrap(), "-q"], &[&photos])
            .status
            .success()
    );
    let first = files(&out);
    let again = helper(
        &["--out", out.to_str().unwrap(), "--artist", "Other", "-q"],
        &[&photos],
    );
    assert!(
        !again.status.success(),
        "a second run over existing files must fail"
    );
    let errors = String::from_utf8_lossy(&again.stderr);
    assert!(errors.contains("already exists"), "{errors}");
    assert!(
        errors.contains("FAILED"),
        "each failed file is named: {errors}"
    );
    let summary = stdout(&again);
    assert!(
        summary.contains(&format!("{} failed", first.len())),
        "{summary}"
    );
    assert_eq!(files(&out), first, "an existing file was overwritten");
}

#[test]
fn in_place_replaces_files_atomically_and_renames_misnamed_ones() {
    let dir = tempfile::tempdir().unwrap();
    sample_photos(dir.path());
    let photos = dir.path().join("photos");
    let heic: Vec<_> = files(&photos)
        .into_keys()
        .filter(|p| p.to_string_lossy().to_lowercase().ends_with(".heic"))
        .collect();
    let output = helper(&["--in-place", "--artist", "Ada", "-q"], &[&photos]);
    assert!(output.status.success(), "{output:?}");
    let after = files(&photos);
    for path in after.keys() {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(!name.starts_with(".keepsake"), "temp file left: {name}");
    }
    for original in heic {
        assert!(!after.contains_key(&original), "{original:?} still there");
        assert!(
            after.contains_key(&original.with_extension("jpg")),
            "{original:?} not renamed"
        );
    }
    for (path, bytes) in &after {
        let meta = metafix::read(bytes).unwrap();
        assert_eq!(meta.artist.as_deref(), Some("Ada"), "{path:?}");
        assert_eq!(meta.software, None, "{path:?}");
    }
    // A second run finds nothing left to do.
    let again = helper(&["--in-place", "--artist", "Ada"], &[&photos]);
    assert!(stdout(&again).contains(" 0 fixed"), "{}", stdout(&again));
    assert_eq!(files(&photos), after);
}

#[test]
fn other_files_are_skipped_and_unwritable_outputs_fail() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("notes.txt"), "not a photo").unwrap();
    std::fs::write(inputs.join("broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE1, 0xFF]).unwrap();
    let output = helper(&["--dry-run"], &[&inputs]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("skipped"), "{}", stdout(&output));

    // The output folder's place is taken by a file: refused before any work.
    sample_photos(dir.path());
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "a file, not a folder").unwrap();
    let output = helper(
        &["--out", blocked.to_str().unwrap(), "-q"],
        &[&dir.path().join("photos")],
    );
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("not a folder"), "{errors}");
    assert_eq!(std::fs::read(&blocked).unwrap(), b"a file, not a folder");

    // A subfolder's place (`nested/`) is taken by a file: the same, nothing written.
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("nested"), "in the way").unwrap();
    let output = helper(
        &["--out", out.to_str().unwrap(), "-q"],
        &[&dir.path().join("photos")],
    );
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("no file was written"), "{errors}");
    assert_eq!(walk_files(&out).len(), 1, "only the blocking file is there");
}

#[test]
fn a_bad_time_zone_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let output = helper(&["--dry-run", "--time-zone", "Mars/Olympus"], &[dir.path()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Mars/Olympus"));
}

/// A minimal JPEG (SOI, JFIF APP0, SOF0, SOS, EOI) with an optional EXIF APP1 whose
/// Exif IFD holds `DateTimeOriginal` (and no offset).
fn tiny_jpeg(date_time_original: Option<&str>) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[
        0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 1, 0, 72, 0, 72, 0, 0,
    ]);
    if let Some(date) = date_time_original {
        // Big-endian TIFF: IFD0 at 8 with ExifOffset -> Exif IFD at 26 with one ASCII
        // entry whose 20-byte value follows the table at 44.
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&[0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
        tiff.extend_from_slice(&[0, 1, 0x90, 0x03, 0, 2, 0, 0, 0, 20, 0, 0, 0, 44, 0, 0, 0, 0]);
        tiff.extend_from_slice(date.as_bytes());
        tiff.push(0);
        let len = (2 + 6 + tiff.len()) as u16;
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(&tiff);
    }
    out.extend_from_slice(&[
        0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0,
        0x12, 0x34, 0xFF, 0xD9,
    ]);
    out
}

#[test]
fn files_that_cannot_be_edited_are_counted_apart_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("good.jpg"), tiny_jpeg(None)).unwrap();
    // After the APP0, bytes that lead to no JPEG marker: metafix cannot edit it.
    let mut broken = tiny_jpeg(None)[..20].to_vec();
    broken.extend_from_slice(b"not a marker anywhere");
    std::fs::write(inputs.join("broken.jpg"), &broken).unwrap();

    let out = dir.path().join("out");
    let output = helper(
        &["--out", out.to_str().unwrap(), "--artist", "Ada", "-q"],
        &[&inputs],
    );
    let text = stdout(&output);
    assert!(
        !output.status.success(),
        "a file that could not be edited fails the run: {text}"
    );
    assert!(text.contains("1 fixed"), "{text}");
    assert!(text.contains("0 already as asked"), "{text}");
    assert!(text.contains("1 could not be edited"), "{text}");
    assert!(
        text.contains("1 file could not be edited"),
        "its own line, even with -q: {text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("broken.jpg"))
        .unwrap_or_else(|| panic!("the file is named: {text}"));
    assert!(line.contains("no marker"), "with the reason: {line}");
    // Passed through unchanged into --out.
    assert_eq!(std::fs::read(out.join("broken.jpg")).unwrap(), broken);

    let out2 = dir.path().join("out2");
    let output = helper(
        &[
            "--out",
            out2.to_str().unwrap(),
            "--artist",
            "Ada",
            "-q",
            "--allow-partial",
        ],
        &[&inputs],
    );
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).contains("1 file could not be edited"));
}

#[test]
fn local_files_without_create_time_get_no_offset_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(
        inputs.join("camera.jpg"),
        tiny_jpeg(Some("2019:03:02 10:11:12")),
    )
    .unwrap();
    let output = helper(&["--dry-run", "--artist", "Ada"], &[&inputs]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Artist"), "the edit is shown: {text}");
    assert!(
        !text.contains("does not match createTime"),
        "nothing to compare without a createTime: {text}"
    );
    assert!(text.contains("0 could not be edited"), "{text}");
}

/// Runs `program args…` under `/usr/bin/time`: (wall seconds, peak RSS in KiB).
fn timed(program: &Path, args: &[&std::ffi::OsStr]) -> (f64, u64) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(program)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stderr);
    let last = text.lines().last().unwrap_or_default().to_owned();
    let mut fields = last.split_whitespace();
    let seconds: f64 = fields.next().and_then(|f| f.parse().ok()).unwrap();
    let kib: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap();
    (seconds, kib)
}

/// The benchmark of issue 16: `helper fix --out` of a large MP4 (4.8 GB unless
/// `KEEPSAKE_BENCH_MOVIE_SIZE` says otherwise; the emulator's video, zeroed dates
/// and all) against `cp` of the same file, three runs each taken in turn, with
/// `helper fix`'s peak memory. Run by `scripts/bench-native` against a release build.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-native runs it against a release helper"]
async fn bench_fix_of_a_large_movie_against_cp() {
    let size: u64 = std::env::var("KEEPSAKE_BENCH_MOVIE_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_800_000_000);
    let dir = tempfile::tempdir_in(keepsake_tests::target_dir()).unwrap();
    let movie = dir.path().join("movie.mp4");
    {
        use keepsake_tests::emulator_client;
        let emu = emulator_client::start(EmulatorConfig {
            large_file_count: 1,
            large_file_size: size,
            processing_video: false,
            ..EmulatorConfig::default()
        })
        .await;
        let token = emu.sign_in(emulator_client::MARIA).await;
        let (session, _) = emu.picked_session(&token, None).await;
        let items = emu.list_all(&token, &session, None).await;
        let base = items
            .iter()
            .find(|i| i["mediaFile"]["filename"].as_str().unwrap().contains("_4K"))
            .and_then(|i| i["mediaFile"]["baseUrl"].as_str())
            .unwrap()
            .to_owned();
        let mut response = emu.get_media(&format!("{base}=dv"), &token).await;
        assert_eq!(response.status(), 200);
        use std::io::Write;
        let mut file =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&movie).unwrap());
        while let Some(chunk) = response.chunk().await.unwrap() {
            file.write_all(&chunk).unwrap();
        }
        file.flush().unwrap();
    }
    let len = std::fs::metadata(&movie).unwrap().len();
    let helper = helper_binary().unwrap();
    let cp = Path::new("/bin/cp");
    let (mut fix_times, mut cp_times, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..4 {
        let (fixed_dir, copied_dir) = (dir.path().join("fixed"), dir.path().join("copied"));
        for d in [&fixed_dir, &copied_dir] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
        }
        let (fix_s, peak) = timed(
            &helper,
            &[
                "fix".as_ref(),
                "-q".as_ref(),
                "--out".as_ref(),
                fixed_dir.as_os_str(),
                movie.as_os_str(),
            ],
        );
        let (cp_s, _) = timed(cp, &[movie.as_os_str(), copied_dir.as_os_str()]);
        // The first pair warms the page cache for both.
        if run > 0 {
            fix_times.push(fix_s);
            cp_times.push(cp_s);
            peaks.push(peak);
        }
        let fixed = walk_files(&fixed_dir);
        assert_eq!(fixed.len(), 1);
        assert_eq!(std::fs::metadata(&fixed[0]).unwrap().len(), len);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (fix_s, cp_s) = (median(&mut fix_times), median(&mut cp_times));
    println!(
        "bench-native: helper fix --out of a {len}-byte MP4: {fix_s:.2} s (median of 3), cp {cp_s:.2} s: \
         {:.2}x cp; peak RSS {:.1} MiB (max of 3)",
        fix_s / cp_s,
        *peaks.iter().max().unwrap() as f64 / 1024.0
    );
}

/// `helper --version` names the version and the commit it was built from (for a
/// bug report, and to tell two home servers' helpers apart).
#[test]
fn the_version_names_the_commit() {
    let out = std::process::Command::new(keepsake_tests::helper_binary().unwrap())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(keepsake_tests::workspace_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let commit = head.unwrap_or_else(|| "unknown".into());
    assert_eq!(
        text,
        format!("helper {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}
