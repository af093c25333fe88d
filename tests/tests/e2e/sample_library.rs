//! The emulator's sample library through metafix: every photo, fixed with the
//! settings a user would pick, reads back with exactly those values — the same
//! check the browser test makes on three photos, made here on all of them.

use emulator::EmulatorConfig;
use emulator::library::{Library, Original};
use metafix::{FixOptions, Format, ItemContext};
use picker::MediaType;

#[test]
fn every_sample_photo_reads_back_with_the_requested_metadata() {
    let config = EmulatorConfig {
        large_file_count: 0,
        ..EmulatorConfig::default()
    };
    let library = Library::generate(&config);
    let options = FixOptions::default()
        .with_artist("Ada Lovelace")
        .with_copyright("© Ada")
        .with_time_zone("America/Bogota")
        .unwrap();
    let mut failures = Vec::new();
    let mut photos = 0;
    for item in library.items() {
        if item.kind != MediaType::Photo {
            continue;
        }
        photos += 1;
        let Ok(Original::Whole(bytes)) = item.original() else {
            panic!("{}: no bytes", item.filename)
        };
        let mut context = ItemContext::default()
            .with_create_time(item.create_time)
            .with_filename(item.filename.clone())
            .with_mime_type(item.mime_type);
        context.camera_make = item.metadata().camera_make.clone();
        context.camera_model = item.metadata().camera_model.clone();
        let fixed = metafix::fix(&bytes, &options, &context);
        let out = fixed.assemble(&bytes);
        let meta = match metafix::read(&out) {
            Ok(meta) => meta,
            Err(err) => {
                failures.push(format!("{}: unreadable after fix: {err}", item.filename));
                continue;
            }
        };
        let mut problems = Vec::new();
        if meta.software.is_some() {
            problems.push(format!("Software {:?} kept", meta.software));
        }
        if meta.artist.as_deref() != Some("Ada Lovelace") {
            problems.push(format!("Artist {:?}", meta.artist));
        }
        if meta.copyright.as_deref() != Some("© Ada") {
            problems.push(format!("Copyright {:?}", meta.copyright));
        }
        if meta.date_time_original.is_none() || meta.offset_time_original.is_none() {
            problems.push(format!(
                "date {:?} offset {:?}",
                meta.date_time_original, meta.offset_time_original
            ));
        }
        if fixed.format == Format::Jpeg
            && !fixed.file_name(&item.filename).ends_with(".jpg")
            && !fixed.file_name(&item.filename).ends_with(".JPG")
        {
            problems.push(format!("named {}", fixed.file_name(&item.filename)));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({:?}): {}\n{}",
                item.filename,
                item.oddity,
                problems.join("; "),
                fixed.report
            ));
        }
    }
    assert!(photos >= 40, "only {photos} photos in the sample library");
    assert!(
        failures.is_empty(),
        "{} of {photos} photos:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
