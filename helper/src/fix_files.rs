//! `helper fix`: the metafix engine on local files and folders — the original
//! tool's batch mode, and the way to benchmark the engine.
//!
//! Every file is planned from the ranges metafix asks for (a photo: its first
//! 128 KiB and a few bytes more; a movie: its box headers and `moov`), never read
//! whole, and the patch is written to a temporary file beside its destination —
//! new bytes from memory, copies of the original file to file by the kernel — which
//! is then renamed into place: memory stays small whatever the file's size, a
//! crash or a full disk never leaves a half-written photo, and `--out` never
//! replaces an existing file.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metafix::{DatePolicy, FixOptions, Format, ItemContext, Patch, Piece};
use rayon::prelude::*;

/// Flags of `helper fix`.
#[derive(Debug, Clone, clap::Args)]
pub struct FixArgs {
    /// Files and folders (folders are walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// What to fix (shared with `helper pick`).
    #[command(flatten)]
    pub fix: FixOptionsArgs,

    /// Use each file's modification time as its capture time when the file has
    /// none (local files have no Google `createTime`).
    #[arg(long)]
    pub mtime_as_capture_time: bool,

    /// Show what would change, as a before/after table; write nothing.
    #[arg(long, conflicts_with_all = ["out", "in_place"])]
    pub dry_run: bool,

    /// Write the fixed files into this folder (same relative layout); never overwrites.
    #[arg(long, conflicts_with = "in_place")]
    pub out: Option<PathBuf>,

    /// Replace the files themselves (atomically: temp file + rename).
    #[arg(long)]
    pub in_place: bool,

    /// Parallel jobs (default: one per core).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,

    /// No progress bar, only the summary (and errors). Files that could not be
    /// edited are still listed.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Exit with success even when some files could not be edited (they are still
    /// counted and listed).
    #[arg(long)]
    pub allow_partial: bool,
}

/// The fix options `helper fix` and `helper pick` share: one struct, so both
/// commands spell and document them the same way.
#[derive(Debug, Clone, clap::Args)]
pub struct FixOptionsArgs {
    /// Set Artist.
    #[arg(long)]
    pub artist: Option<String>,

    /// Set Copyright.
    #[arg(long)]
    pub copyright: Option<String>,

    /// Remove this tag too (by name, e.g. `Make`, or number, e.g. `0x010f`); repeatable.
    #[arg(long = "remove-tag", value_name = "TAG")]
    pub remove_tags: Vec<String>,

    /// Keep the Software tag (it is removed by default).
    #[arg(long)]
    pub keep_software: bool,

    /// Capture dates: `fill` where missing, `overwrite`, or `keep`.
    #[arg(long, default_value = "fill", value_parser = date_policy_parser())]
    pub dates: DatePolicy,

    /// IANA time zone for photos whose files give no offset (e.g. Europe/Berlin).
    #[arg(long)]
    pub time_zone: Option<String>,
}

impl FixOptionsArgs {
    /// The metafix options these flags ask for.
    pub fn to_fix_options(&self) -> anyhow::Result<FixOptions> {
        let mut options = FixOptions::default()
            .with_remove_software(!self.keep_software)
            .with_dates(self.dates);
        if let Some(artist) = &self.artist {
            options = options.with_artist(artist);
        }
        if let Some(copyright) = &self.copyright {
            options = options.with_copyright(copyright);
        }
        if let Some(zone) = &self.time_zone {
            options = options
                .with_time_zone(zone)
                .with_context(|| format!("--time-zone {zone}"))?;
        }
        for tag in &self.remove_tags {
            options = options
                .with_removed_tag(tag)
                .with_context(|| format!("--remove-tag {tag}"))?;
        }
        Ok(options)
    }
}

/// `--dates`: metafix's own names, offered as clap's possible values.
fn date_policy_parser() -> impl clap::builder::TypedValueParser<Value = DatePolicy> {
    // `map` is a TypedValueParser method: the trait must be in scope.
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(DatePolicy::ALL.map(DatePolicy::as_str)).map(|name| {
        name.parse::<DatePolicy>()
            .expect("clap only passes the possible values, which are DatePolicy's own names")
    })
}

/// Where fixed files go.
#[derive(Debug, Clone)]
enum Destination {
    DryRun,
    InPlace,
    Folder(PathBuf),
}

/// One file to fix: its path, and the folder it was found under (for `--out`).
#[derive(Debug, Clone)]
struct Job {
    path: PathBuf,
    root: PathBuf,
}

/// What happened to one file.
#[derive(Debug)]
enum Outcome {
    Fixed {
        repaired: bool,
    },
    /// Nothing needed doing.
    AlreadyAsAsked,
    /// The file is one metafix reads but could not edit: passed through unchanged,
    /// for this reason. Never counted as "already as asked".
    CouldNotEdit(String),
    Skipped(String),
    Failed(String),
}

/// Runs `helper fix`.
pub fn run(args: FixArgs) -> anyhow::Result<ExitCode> {
    let destination = match (&args.out, args.in_place, args.dry_run) {
        (_, _, true) => Destination::DryRun,
        (Some(out), false, false) => Destination::Folder(out.clone()),
        (None, true, false) => Destination::InPlace,
        _ => bail!("say where the fixed files go: --out DIR, --in-place, or --dry-run"),
    };
    let options = args.fix.to_fix_options()?;
    let jobs = collect(&args.paths)?;
    if jobs.is_empty() {
        bail!("no files found in the given paths");
    }
    // Output folders are made once, up front, not once per file.
    let destination = match destination {
        Destination::Folder(out) => {
            let out =
                std::path::absolute(&out).with_context(|| format!("--out {}", out.display()))?;
            if out.exists() && !out.is_dir() {
                bail!(
                    "--out {}: that is a file, not a folder; nothing was written",
                    out.display()
                );
            }
            let folders: std::collections::BTreeSet<PathBuf> =
                jobs.iter().map(|job| output_dir(&out, job)).collect();
            for folder in folders {
                fs::create_dir_all(&folder).with_context(|| {
                    format!(
                        "cannot make the output folder {}; no file was written",
                        folder.display()
                    )
                })?;
            }
            Destination::Folder(out)
        }
        other => other,
    };

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let bar = if args.quiet || args.dry_run {
        ProgressBar::hidden()
    } else {
        let bar =
            ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files  {elapsed}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    // Dry-run tables are printed whole, one file at a time, in input order.
    let tables = Mutex::new(Vec::new());
    let outcomes: Vec<(PathBuf, Outcome)> = pool.install(|| {
        jobs.par_iter()
            .enumerate()
            .map(|(index, job)| {
                let outcome = fix_one(job, &options, &args, &destination, |table| {
                    if let Ok(mut tables) = tables.lock() {
                        tables.push((index, table));
                    }
                });
                bar.inc(1);
                (job.path.clone(), outcome)
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut stdout = io::stdout().lock();
    if args.dry_run {
        let mut tables = tables.into_inner().unwrap_or_default();
        tables.sort_by_key(|(index, _)| *index);
        for (_, table) in tables {
            write!(stdout, "{table}")?;
        }
    }
    let mut summary = Summary::default();
    let mut could_not = Vec::new();
    for (path, outcome) in &outcomes {
        match outcome {
            Outcome::Fixed { repaired } => {
                summary.fixed += 1;
                summary.repaired += usize::from(*repaired);
            }
            Outcome::AlreadyAsAsked => summary.already += 1,
            Outcome::CouldNotEdit(why) => could_not.push((path, why)),
            Outcome::Skipped(why) => {
                summary.skipped += 1;
                if !args.quiet {
                    writeln!(stdout, "skipped {}: {why}", path.display())?;
                }
            }
            Outcome::Failed(why) => {
                summary.failed += 1;
                eprintln!("FAILED {}: {why}", path.display());
            }
        }
    }
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    writeln!(
        stdout,
        "{} files: {} {verb} ({} with repairs), {} already as asked, {} could not be edited, \
         {} skipped, {} failed",
        outcomes.len(),
        summary.fixed,
        summary.repaired,
        summary.already,
        could_not.len(),
        summary.skipped,
        summary.failed
    )?;
    // Its own line, with --quiet too: these files were asked for and not done.
    if !could_not.is_empty() {
        let n = could_not.len();
        let files = if n == 1 { "file" } else { "files" };
        writeln!(
            stdout,
            "{n} {files} could not be edited (passed through unchanged):"
        )?;
        for (path, why) in &could_not {
            writeln!(stdout, "  {}: {why}", path.display())?;
        }
    }
    Ok(
        if summary.failed > 0 || (!could_not.is_empty() && !args.allow_partial) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

#[derive(Debug, Default)]
struct Summary {
    fixed: usize,
    repaired: usize,
    already: usize,
    skipped: usize,
    failed: usize,
}

/// Expands the arguments into files, walking folders; hidden files and our own
/// temporary files are left out.
fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_file() {
            let root = path.parent().unwrap_or(Path::new("")).to_owned();
            jobs.push(Job {
                path: path.clone(),
                root,
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.with_context(|| format!("walking {}", path.display()))?;
            let hidden = entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with('.'));
            if entry.file_type().is_file() && !hidden {
                jobs.push(Job {
                    path: entry.into_path(),
                    root: path.clone(),
                });
            }
        }
    }
    Ok(jobs)
}

fn fix_one(
    job: &Job,
    options: &FixOptions,
    args: &FixArgs,
    destination: &Destination,
    table: impl FnOnce(String),
) -> Outcome {
    match try_fix_one(job, options, args, destination, table) {
        Ok(outcome) => outcome,
        Err(err) => Outcome::Failed(format!("{err:#}")),
    }
}

fn try_fix_one(
    job: &Job,
    options: &FixOptions,
    args: &FixArgs,
    destination: &Destination,
    table: impl FnOnce(String),
) -> anyhow::Result<Outcome> {
    let source = open(&job.path).context("reading")?;
    let original_mtime = source.mtime;
    let name = job
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut item = ItemContext::default().with_filename(name.clone());
    if args.mtime_as_capture_time
        && let Some(mtime) = original_mtime
        && let Ok(ts) = jiff::Timestamp::try_from(mtime)
    {
        item = item.with_create_time(ts);
    }
    let fixed = metafix::plan_with(source.len, options, &item, |range| source.read(range))
        .context("reading")?;
    if fixed.format == Format::Unknown {
        return Ok(Outcome::Skipped(
            "not a photo or video this tool knows".into(),
        ));
    }
    let new_name = fixed.file_name(&name);
    let repaired = !fixed.report.repairs.is_empty();
    // Sorted once, whatever the destination: a file that could not be edited is
    // still copied to --out (unchanged), but never counted as already as asked.
    let done = match fixed.outcome() {
        metafix::Outcome::CouldNotEdit(why) => Outcome::CouldNotEdit(why.why),
        _ if fixed.changed() || new_name != name => Outcome::Fixed { repaired },
        _ => Outcome::AlreadyAsAsked,
    };

    match destination {
        Destination::DryRun => {
            table(format!("{}\n{}\n", job.path.display(), fixed.report));
            Ok(done)
        }
        Destination::Folder(out) => {
            let target = output_dir(out, job).join(&new_name);
            let mtime = capture_mtime(&fixed).or(original_mtime);
            write_new(&target, &fixed, &source, mtime)?;
            Ok(done)
        }
        Destination::InPlace => {
            if !fixed.changed() && new_name == name {
                return Ok(done);
            }
            let target = job.path.with_file_name(&new_name);
            let mtime = capture_mtime(&fixed).or(original_mtime);
            if target == job.path {
                replace(&job.path, &fixed, &source, mtime)?;
            } else {
                // A new extension: write the new name (never over another file),
                // then remove the old one.
                write_new(&target, &fixed, &source, mtime)?;
                fs::remove_file(&job.path).context("removing the misnamed original")?;
            }
            Ok(done)
        }
    }
}

fn capture_mtime(fixed: &Patch) -> Option<SystemTime> {
    fixed
        .capture_time()
        .and_then(|ts| SystemTime::try_from(ts).ok())
}

/// Writes the output into a temp file in `dir`, with its mtime set: new bytes
/// from the patch, copies of the original file to file by the kernel
/// (copy_file_range: no trip through this process, and a reflink on file systems
/// that can share blocks).
fn write_temp(
    dir: &Path,
    fixed: &Patch,
    source: &Source,
    mtime: Option<SystemTime>,
) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut temp = tempfile::Builder::new()
        .prefix(".keepsake-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let file = temp.as_file_mut();
    for piece in fixed.pieces() {
        match piece {
            Piece::Bytes(bytes) => file.write_all(bytes)?,
            Piece::Copy(range) => {
                let len = range.end - range.start;
                let mut original = &source.file;
                original.seek(io::SeekFrom::Start(range.start))?;
                let copied = io::copy(&mut original.take(len), file)?;
                if copied != len {
                    bail!("the file changed while it was being fixed; nothing was written");
                }
            }
        }
    }
    if let Some(mtime) = mtime {
        temp.as_file().set_modified(mtime)?;
    }
    Ok(temp)
}

/// An input file: open (its ranges are read from it), its length and its mtime.
struct Source {
    file: fs::File,
    len: u64,
    mtime: Option<SystemTime>,
}

impl Source {
    /// The bytes of `range` (fewer at the end of the file).
    fn read(&self, range: Range<u64>) -> io::Result<Vec<u8>> {
        let len = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(|_| io::Error::other("a range too large for memory"))?;
        let mut buffer = vec![0; len];
        crate::library::store::read_exact_at(&self.file, &mut buffer, range.start)?;
        Ok(buffer)
    }
}

/// Opens a file and reads its length and modification time (one open, one stat).
fn open(path: &Path) -> io::Result<Source> {
    let file = fs::File::open(path)?;
    let meta = file.metadata()?;
    Ok(Source {
        file,
        len: meta.len(),
        mtime: meta.modified().ok(),
    })
}

/// The folder under `out` that mirrors the job's place under its root.
fn output_dir(out: &Path, job: &Job) -> PathBuf {
    let relative = job.path.strip_prefix(&job.root).unwrap_or(&job.path);
    match relative.parent() {
        Some(parent) => out.join(parent),
        None => out.to_owned(),
    }
}

/// Writes a new file at `target` (whose folder exists); fails if something is
/// already there.
fn write_new(
    target: &Path,
    fixed: &Patch,
    source: &Source,
    mtime: Option<SystemTime>,
) -> anyhow::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let temp = write_temp(dir, fixed, source, mtime)?;
    // A new file gets the library's mode (temporary files are created owner-only).
    set_new_file_mode(&temp)?;
    temp.persist_noclobber(target).map_err(|err| {
        if err.error.kind() == io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} already exists; not overwritten", target.display())
        } else {
            anyhow::Error::new(err.error).context(format!("writing {}", target.display()))
        }
    })?;
    Ok(())
}

/// Atomically replaces `path` with the fixed output.
fn replace(
    path: &Path,
    fixed: &Patch,
    source: &Source,
    mtime: Option<SystemTime>,
) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = write_temp(dir, fixed, source, mtime)?;
    // The original is about to be replaced: its successor must be on disk first,
    // or a power cut could leave neither.
    temp.as_file().sync_all().context("syncing")?;
    if let Ok(permissions) = fs::metadata(path).map(|m| m.permissions()) {
        let _ = fs::set_permissions(temp.path(), permissions);
    }
    temp.persist(path).map_err(|err| {
        anyhow::Error::new(err.error).context(format!("replacing {}", path.display()))
    })?;
    Ok(())
}

/// Gives a new file the mode the library gives saved files.
#[cfg(unix)]
fn set_new_file_mode(temp: &tempfile::NamedTempFile) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(
            crate::library::DEFAULT_FILE_MODE,
        ))
        .context("setting the file's mode")
}

#[cfg(not(unix))]
fn set_new_file_mode(_temp: &tempfile::NamedTempFile) -> anyhow::Result<()> {
    Ok(())
}
