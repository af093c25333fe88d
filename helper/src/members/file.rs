//! `helper member add|passwd|remove|list`: the members live in the helper's TOML
//! configuration file, which these commands edit in place (comments and the rest
//! of the file kept, written atomically: temp file + rename, mode 0600).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::{check_name, hash_passphrase};

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// `helper member …`.
#[derive(Debug, clap::Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    command: MemberCommand,

    /// The helper's configuration file (created if missing).
    #[arg(long, env = "KEEPSAKE_CONFIG", default_value = crate::config::DEFAULT_CONFIG_FILE, global = true)]
    config: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum MemberCommand {
    /// Add a family member; asks for their passphrase (one line on stdin when it is
    /// not a terminal).
    Add {
        /// Their sign-in name, also their folder's name (letters, digits, '-', '_').
        name: String,
        /// The Artist the app pre-fills for them.
        #[arg(long)]
        artist: Option<String>,
        /// The Copyright the app pre-fills for them.
        #[arg(long)]
        copyright: Option<String>,
        /// Give them the photos a removed member of the same name left (set aside
        /// as `<library>/<name> (removed <time>)`). Without it, a name used before
        /// starts with an empty library.
        #[arg(long)]
        adopt: bool,
    },
    /// Change a member's passphrase.
    Passwd {
        /// The member.
        name: String,
    },
    /// Remove a member (their photos stay where they are).
    Remove {
        /// The member.
        name: String,
    },
    /// List the members.
    List,
}

/// Runs `helper member …`.
pub fn run(args: MemberArgs) -> anyhow::Result<std::process::ExitCode> {
    let path = &args.config;
    let mut doc = read(path)?;
    match args.command {
        MemberCommand::Add {
            name,
            artist,
            copyright,
            adopt,
        } => {
            check_name(&name)?;
            if find(&doc, &name).is_some() {
                bail!("{name} is already a member (use `helper member passwd {name}`)");
            }
            // Folders named apart only by case are one folder on macOS, Windows and
            // most shares (and the helper refuses to start with both).
            if let Some(other) = names(&doc).find(|other| other.eq_ignore_ascii_case(&name)) {
                bail!(
                    "{name} would share a folder with the member {other} where case does not \
                     count (macOS, Windows, most shares): choose another name"
                );
            }
            let hash = hash_passphrase(&read_passphrase(&format!("Passphrase for {name}"))?)?;
            let mut table = Table::new();
            table["name"] = value(name.as_str());
            table["passphrase_hash"] = value(hash);
            if let Some(artist) = artist {
                table["artist"] = value(artist);
            }
            if let Some(copyright) = copyright {
                table["copyright"] = value(copyright);
            }
            // Whatever the library holds under this name from before is someone
            // else's: the helper sets it aside (see `Member::since`).
            table["since"] = value(jiff::Timestamp::now().to_string());
            if adopt {
                table["adopt"] = value(true);
            }
            members_mut(&mut doc)?.push(table);
            write(path, &doc)?;
            eprintln!(
                "added {name} to {}; a running helper lets them sign in within {} s",
                path.display(),
                super::WATCH_EVERY.as_secs()
            );
            if adopt {
                eprintln!(
                    "{name} takes back the photos of the last removed member named {name}, if \
                     the helper set them aside"
                );
            } else {
                eprintln!(
                    "{name} starts with an empty library: photos a removed member of that name \
                     left are kept as '<library>/{name} (removed <time>)' (`--adopt` gives them \
                     back)"
                );
            }
        }
        MemberCommand::Passwd { name } => {
            let index = find(&doc, &name).with_context(|| format!("no member named {name}"))?;
            let hash = hash_passphrase(&read_passphrase(&format!("New passphrase for {name}"))?)?;
            let members = members_mut(&mut doc)?;
            let table = members
                .get_mut(index)
                .expect("find returned an index inside the array");
            table["passphrase_hash"] = value(hash);
            write(path, &doc)?;
            eprintln!(
                "changed {name}'s passphrase; a running helper refuses the old one, and ends the \
                 sessions signed in with it, within {} s",
                super::WATCH_EVERY.as_secs()
            );
        }
        MemberCommand::Remove { name } => {
            let index = find(&doc, &name).with_context(|| format!("no member named {name}"))?;
            members_mut(&mut doc)?.remove(index);
            write(path, &doc)?;
            eprintln!(
                "removed {name}; a running helper signs them out within {} s and sets their \
                 photos aside, whole, as '<library>/{name} (removed <time>)'",
                super::WATCH_EVERY.as_secs()
            );
        }
        MemberCommand::List => {
            let mut out = std::io::stdout().lock();
            if let Some(members) = doc.get("members").and_then(Item::as_array_of_tables) {
                for table in members.iter() {
                    let field = |key: &str| table.get(key).and_then(Item::as_str).unwrap_or("");
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        field("name"),
                        field("artist"),
                        field("copyright")
                    )?;
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn read(path: &Path) -> anyhow::Result<DocumentMut> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<DocumentMut>()
            .with_context(|| format!("in the config file {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(DocumentMut::new()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

fn members_mut(doc: &mut DocumentMut) -> anyhow::Result<&mut ArrayOfTables> {
    doc.entry("members")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .context("`members` in the config file must be a list of [[members]] tables")
}

/// The members' names in the file.
fn names(doc: &DocumentMut) -> impl Iterator<Item = &str> {
    doc.get("members")
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(|members| members.iter())
        .filter_map(|table| table.get("name").and_then(Item::as_str))
}

fn find(doc: &DocumentMut, name: &str) -> Option<usize> {
    doc.get("members")?
        .as_array_of_tables()?
        .iter()
        .position(|table| table.get("name").and_then(Item::as_str) == Some(name))
}

/// Writes `doc` to `path` atomically, readable by its owner only (it holds hashes).
fn write(path: &Path, doc: &DocumentMut) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".keepsake-config-")
        .tempfile_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    temp.write_all(doc.to_string().as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// A passphrase: asked twice without echo on a terminal, else one line of stdin
/// (so scripts and tests can set one).
fn read_passphrase(prompt: &str) -> anyhow::Result<String> {
    let passphrase = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the two passphrases differ; nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    check_passphrase(&passphrase)?;
    Ok(passphrase)
}

/// The fewest different characters a passphrase may have.
pub const MIN_DISTINCT_CHARS: usize = 4;

/// Refuses a passphrase a guesser would try early: shorter than
/// [`MIN_PASSPHRASE_CHARS`] without the spaces at its ends, or made of fewer than
/// [`MIN_DISTINCT_CHARS`] different characters (`        `, `aaaaaaaa`, `abababab`).
pub fn check_passphrase(passphrase: &str) -> anyhow::Result<()> {
    let trimmed = passphrase.trim();
    let distinct: std::collections::HashSet<char> = trimmed.chars().collect();
    if trimmed.chars().count() < MIN_PASSPHRASE_CHARS || distinct.len() < MIN_DISTINCT_CHARS {
        bail!(
            "a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters besides the spaces at \
             its ends, and at least {MIN_DISTINCT_CHARS} different ones (three or four words make \
             a good one); nothing was changed"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases_a_guesser_tries_first_are_refused() {
        for weak in [
            "        ",
            "aaaaaaaaaa",
            "abababababab",
            "  abc  ",
            "short",
            "\t\t\t\t\t\t\t\t",
        ] {
            assert!(check_passphrase(weak).is_err(), "{weak:?}");
        }
        for fine in [
            "maria's long passphrase",
            "correct horse",
            "  padded but fine  ",
        ] {
            check_passphrase(fine).unwrap_or_else(|e| panic!("{fine:?}: {e}"));
        }
    }

    #[test]
    fn names_apart_only_by_case_are_found() {
        let doc: DocumentMut = "[[members]]\nname = \"carol\"\npassphrase_hash = \"x\"\n"
            .parse()
            .unwrap();
        assert_eq!(names(&doc).collect::<Vec<_>>(), ["carol"]);
        assert!(names(&doc).any(|n| n.eq_ignore_ascii_case("Carol")));
        assert!(find(&doc, "Carol").is_none(), "find is exact");
    }
}
