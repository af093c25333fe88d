//! Fixes files into a folder, for looking at results by hand:
//! `cargo run -p metafix --example fix_files -- OUT_DIR FILE...`
//! (sets Artist "Example Artist", Copyright "Example Copyright" and fills dates from
//! the createTime 2020-05-17T10:20:30Z). `METAFIX_DATES=overwrite|keep` and
//! `METAFIX_TZ=Europe/Paris` change the date policy and time zone;
//! `METAFIX_REMOVE=GPSInfo,Make` removes more tags.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out_dir = args.next().ok_or("usage: fix_files OUT_DIR FILE...")?;
    let mut options = metafix::FixOptions::default()
        .with_artist("Example Artist")
        .with_copyright("Example Copyright");
    options.dates = match std::env::var("METAFIX_DATES").as_deref() {
        Ok("overwrite") => metafix::DatePolicy::Overwrite,
        Ok("keep") => metafix::DatePolicy::Keep,
        _ => metafix::DatePolicy::Fill,
    };
    for tag in std::env::var("METAFIX_REMOVE")
        .unwrap_or_default()
        .split(',')
    {
        if !tag.is_empty() {
            options = options.with_removed_tag(tag)?;
        }
    }
    if let Ok(tz) = std::env::var("METAFIX_TZ") {
        options = options.with_time_zone(&tz)?;
    }
    let item = metafix::ItemContext::default().with_create_time("2020-05-17T10:20:30Z".parse()?);
    for file in args {
        let input = std::fs::read(&file)?;
        let fixed = metafix::fix(&input, &options, &item);
        let name = Path::new(&file).file_name().ok_or("no file name")?;
        std::fs::write(Path::new(&out_dir).join(name), fixed.assemble(&input))?;
        println!("== {file}\n{}", fixed.report);
    }
    Ok(())
}
