//! Real files: the corpus at `../shared/corpus` beside the checkout (not part of the
//! project; skipped with a message when absent), and ExifTool as the oracle (skipped
//! when `exiftool` is not installed).
//!
//! For every file: fix (remove Software, set Artist and Copyright, fill dates from a
//! createTime); the output must re-read, be idempotent and be byte-identical outside
//! its EXIF payload. With ExifTool: `exiftool -validate -warning -a -G1` before and
//! after, one process per side for all files; no warning after that was not there
//! before, no fewer decoded MakerNote tags, and the requested values read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Seen, exiftool};

use metafix::{FixOptions, ItemContext, Outcome, fix, read};

const ARTIST: &str = "Oracle Artist";
const COPYRIGHT: &str = "(c) Oracle Family";

/// The corpus folders beside the checkout: `corpus` (files metafix passes) and
/// `corpus-pending` (files brought in by round two: junk before markers, MPO/MPF,
/// damaged blocks). Each is read when present.
fn corpus_dirs() -> Vec<PathBuf> {
    let shared = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"));
    let dirs: Vec<PathBuf> = ["corpus", "corpus-pending"]
        .iter()
        .map(|name| shared.join(name))
        .filter(|dir| dir.is_dir())
        .collect();
    if dirs.is_empty() {
        eprintln!(
            "SKIPPED: no corpus at {} (it is not part of the project)",
            shared.join("corpus").display()
        );
    }
    dirs
}

/// Every file of every corpus folder, sorted.
fn all_corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = corpus_dirs().iter().flat_map(|d| corpus_files(d)).collect();
    files.sort();
    files
}

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn options() -> FixOptions {
    FixOptions::default()
        .with_artist(ARTIST)
        .with_copyright(COPYRIGHT)
}

fn item() -> ItemContext {
    ItemContext::default().with_create_time("2020-05-17T10:20:30Z".parse().unwrap())
}

#[test]
fn corpus_fixes_are_rereadable_idempotent_and_local() {
    let files = all_corpus_files();
    if files.is_empty() {
        return;
    }
    for path in files {
        let input = std::fs::read(&path).unwrap();
        let fixed = fix(&input, &options(), &item());
        let out = fixed.assemble(&input);
        let name = path.display();
        if !fixed.changed() {
            assert_eq!(out, input, "{name}");
            continue;
        }
        let meta = read(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        if fixed.format.writes_exif() {
            assert_eq!(meta.artist.as_deref(), Some(ARTIST), "{name}");
            assert_eq!(meta.copyright.as_deref(), Some(COPYRIGHT), "{name}");
            assert_eq!(meta.software, None, "{name}");
            assert!(meta.date_time_original.is_some(), "{name}");
            let outside_same = if fixed.format == metafix::Format::Jpeg {
                crate::support::only_exif_segment_differs(&input, &out)
            } else if fixed.format == metafix::Format::Tiff {
                crate::support::tiff_patched_in_place(&input, &out)
            } else if matches!(fixed.format, metafix::Format::Heic | metafix::Format::Avif) {
                crate::support::heif_only_exif_item_differs(&input, &out)
            } else {
                crate::support::without_exif(&input) == crate::support::without_exif(&out)
            };
            // AFCP trailers hold absolute offsets that must move with the data.
            let afcp = fixed
                .report
                .changes
                .iter()
                .any(|c| c.field == "AFCP trailer offsets");
            // MPF offsets may move with the data too, if they lead to the same images.
            let mpf_before = crate::support::mpf_images(&input);
            let mpf_same = mpf_before.is_some() && mpf_before == crate::support::mpf_images(&out);
            assert!(
                outside_same || afcp || mpf_same,
                "{name}: bytes outside EXIF changed"
            );
            if let Some(images) = mpf_before {
                assert_eq!(
                    Some(images),
                    crate::support::mpf_images(&out),
                    "{name}: the MPF entries no longer lead to the same images"
                );
            }
        }
        let again = fix(&out, &options(), &item());
        assert!(
            !again.changed(),
            "{name}: second fix changed:\n{}",
            again.report
        );
    }
}

/// Planning from ranges gives the whole-buffer fix on every real file, and reads
/// little of it: `-- --nocapture` prints what each format needed.
#[test]
fn corpus_plans_from_ranges_equal_the_whole_fix_and_read_little() {
    let files = all_corpus_files();
    if files.is_empty() {
        return;
    }
    // Per format: files, the most rounds, the most bytes read, all bytes read, all bytes.
    let mut table: BTreeMap<String, (usize, u32, u64, u64, u64)> = BTreeMap::new();
    for path in files {
        let input = std::fs::read(&path).unwrap();
        let whole = fix(&input, &options(), &item());
        let (planned, reads) = crate::support::planned(&input, &options(), &item(), 1 << 16);
        assert_eq!(planned, whole, "{}", path.display());
        let row = table.entry(whole.format.name().to_owned()).or_default();
        row.0 += 1;
        row.1 = row.1.max(reads.rounds);
        row.2 = row.2.max(reads.bytes);
        row.3 += reads.bytes;
        row.4 += input.len() as u64;
        // A JPEG of the corpus is planned from its first 128 KiB and its last bytes.
        if whole.format == metafix::Format::Jpeg {
            assert!(reads.rounds <= 3, "{}: {reads:?}", path.display());
        }
    }
    println!("format  files  max rounds  max read  read / size");
    for (format, (n, rounds, max, read, size)) in &table {
        println!(
            "{format:<7} {n:>5}  {rounds:>10}  {max:>8}  {:>6.1} %",
            100.0 * *read as f64 / (*size).max(1) as f64
        );
    }
}

#[test]
fn exiftool_oracle_finds_no_new_warnings() {
    let files = all_corpus_files();
    if files.is_empty() {
        return;
    }
    if !crate::support::have_exiftool() {
        eprintln!("SKIPPED: exiftool is not installed (apt-get install libimage-exiftool-perl)");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("metafix-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut originals = Vec::new();
    let mut outputs = Vec::new();
    let mut written = Vec::new();
    let mut reports = Vec::new();
    let mut not_written_why = Vec::new();
    for (i, path) in files.into_iter().enumerate() {
        let input = std::fs::read(&path).unwrap();
        let fixed = fix(&input, &options(), &item());
        // Keep the original name (ExifTool checks the extension) in a numbered folder.
        let out_dir = scratch.join(format!("{i:03}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = out_dir.join(path.file_name().unwrap());
        std::fs::write(&out, fixed.assemble(&input)).unwrap();
        written.push(fixed.changed() && fixed.format.writes_exif());
        not_written_why.push(match fixed.outcome() {
            Outcome::CouldNotEdit(why) => Some(why),
            _ => None,
        });
        reports.push(fixed.report);
        originals.push(path);
        outputs.push(out);
    }
    let written_count = written.iter().filter(|w| **w).count();
    let before = exiftool(&originals, &scratch, "before");
    let after = exiftool(&outputs, &scratch, "after");
    // ExifTool as a writer, with the same edits, for the coverage table.
    let by_exiftool =
        crate::support::exiftool_write_all(&originals, &scratch, "exiftool", ARTIST, COPYRIGHT);
    let exiftool_outputs: Vec<PathBuf> =
        by_exiftool.iter().filter_map(|r| r.clone().ok()).collect();
    let after_exiftool = exiftool(&exiftool_outputs, &scratch, "exiftool-after");
    // ExifTool gives up on some truncated JPEGs before reading their EXIF ("JPEG format
    // error", before and after alike). For those, judge the EXIF blocks themselves:
    // ExifTool reads a bare TIFF block as an `.exif` file.
    let mut blocks_before = Vec::new();
    let mut blocks_after = Vec::new();
    for (i, (orig, out)) in originals.iter().zip(&outputs).enumerate() {
        let unreadable = before
            .get(orig)
            .is_some_and(|s| s.warnings.contains("JPEG format error"));
        let (Some(b), Some(a)) = (
            crate::support::jpeg_exif_payload(&std::fs::read(orig).unwrap()),
            crate::support::jpeg_exif_payload(&std::fs::read(out).unwrap()),
        ) else {
            continue;
        };
        if unreadable {
            let (pb, pa) = (
                scratch.join(format!("{i:03}-before.exif")),
                scratch.join(format!("{i:03}-after.exif")),
            );
            std::fs::write(&pb, b).unwrap();
            std::fs::write(&pa, a).unwrap();
            blocks_before.push((i, pb));
            blocks_after.push(pa);
        }
    }
    let block_paths: Vec<PathBuf> = blocks_before.iter().map(|(_, p)| p.clone()).collect();
    let seen_blocks_before = exiftool(&block_paths, &scratch, "blocks-before");
    let seen_blocks_after = exiftool(&blocks_after, &scratch, "blocks-after");
    let mut block_of: BTreeMap<usize, (&Seen, &Seen)> = BTreeMap::new();
    for ((i, pb), pa) in blocks_before.iter().zip(&blocks_after) {
        if let (Some(b), Some(a)) = (seen_blocks_before.get(pb), seen_blocks_after.get(pa)) {
            block_of.insert(*i, (b, a));
        }
    }

    let empty = Seen::default();
    let mut failures = Vec::new();
    let mut coverage = crate::support::Coverage {
        label: "../shared/corpus + ../shared/corpus-pending".to_owned(),
        files: originals.len(),
        metafix_writes: written_count,
        exiftool_writes: exiftool_outputs.len(),
        ..crate::support::Coverage::default()
    };
    let (mut mn_before, mut mn_after, mut checked, mut unjudged) = (0, 0, 0, 0);
    for (i, ((orig, out), was_written)) in originals.iter().zip(&outputs).zip(written).enumerate() {
        let (b, a) = match block_of.get(&i) {
            Some(&(b, a)) => {
                unjudged += 1;
                (b, a)
            }
            None => (
                before.get(orig).unwrap_or(&empty),
                after.get(out).unwrap_or(&empty),
            ),
        };
        checked += 1;
        mn_before += b.maker_note_tags;
        mn_after += a.maker_note_tags;
        // A warning about a moved tag's value is the same warning under its new IFD.
        let renamed = crate::support::renamed_warnings(a, &reports[i]);
        let was = crate::support::comparable_before(b, &reports[i]);
        let new: Vec<&String> = renamed.difference(&was).collect();
        if !new.is_empty() {
            coverage.new_warning_files_metafix += 1;
            failures.push(format!("{}: new warnings {new:?}", orig.display()));
        }
        let short = orig
            .strip_prefix(orig.ancestors().nth(3).unwrap_or(orig))
            .unwrap_or(orig)
            .display()
            .to_string();
        match (&by_exiftool[i], was_written) {
            (Ok(out), _) => {
                let et = after_exiftool.get(out).unwrap_or(&empty);
                let raw = before.get(orig).unwrap_or(&empty);
                if et.warnings.difference(&raw.warnings).next().is_some() {
                    coverage.new_warning_files_exiftool += 1;
                }
                if !was_written {
                    let why = not_written_why[i]
                        .as_ref()
                        .map_or_else(|| "nothing to change".to_owned(), |n| n.why.clone());
                    coverage.only_exiftool.push((short.clone(), why));
                    // The goal: metafix writes every file ExifTool writes, HEIC and
                    // AVIF included (no format is read-only any more).
                    failures.push(format!(
                        "{}: ExifTool writes it and metafix does not ({})",
                        orig.display(),
                        not_written_why[i]
                            .as_ref()
                            .map_or("nothing to change", |n| n.why.as_str())
                    ));
                }
            }
            (Err(why), true) => coverage.only_metafix.push((short.clone(), why.clone())),
            (Err(_), false) => {}
        }
        if a.maker_note_tags < b.maker_note_tags {
            failures.push(format!(
                "{}: MakerNote tags {} -> {}",
                orig.display(),
                b.maker_note_tags,
                a.maker_note_tags
            ));
        }
        if was_written {
            let get = |k: &str| a.tags.get(k).map(String::as_str);
            if get("EXIF:IFD0:Artist") != Some(ARTIST)
                || get("EXIF:IFD0:Copyright") != Some(COPYRIGHT)
                || get("EXIF:IFD0:Software").is_some()
                || get("EXIF:ExifIFD:DateTimeOriginal").is_none()
            {
                failures.push(format!(
                    "{}: ExifTool reads back {:?}",
                    orig.display(),
                    a.tags
                ));
            }
        }
    }
    println!("{coverage}");
    println!(
        "exiftool oracle: {checked} files, {written_count} written ({unjudged} judged on their \
         EXIF block alone: ExifTool cannot read the truncated JPEG), {} failures, MakerNote \
         tags {mn_before} -> {mn_after}",
        failures.len()
    );
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
