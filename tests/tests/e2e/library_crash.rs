//! Crash consistency of the library, with the real `helper serve --demo` binary:
//! `kill -9` it mid-upload (and at whatever point a finished upload has reached),
//! restart it on the same library folder, and find no stray temp file, no lost
//! row, and no duplicate file; the retried upload gives exactly one file. Also: a
//! second helper on the same folder refuses to start, naming it.
//!
//! Plain HTTP/1.1 over a `TcpStream`, so an upload can be cut off after any byte.
//! Every wait polls with a deadline; nothing sleeps a fixed time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keepsake_tests::{helper_binary, walk_files};
use serde_json::Value;

/// How long one wait (start-up, a file appearing) may take before the test fails.
const STEP: Duration = Duration::from_secs(60);

/// The capture time of every upload: files land in `2021/03/`.
const CAPTURE_TIME: &str = "2021-03-04T05%3A06%3A07%2B01%3A00";

/// A running `helper serve --demo` on a given library folder, killed on drop.
struct Helper {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
}

impl Helper {
    /// Starts the helper on `library` and waits for its `listening on …` line.
    fn start(library: &Path, no_app: &Path) -> Helper {
        let mut child = helper_command(library, no_app)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting helper");
        let stdout = child.stdout.take().expect("helper stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading helper's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line from helper: {line:?}"))
            .to_owned();
        Helper { child, addr }
    }

    /// `kill -9`: no destructor, no graceful shutdown, no flush.
    fn kill(mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.kill().expect("killing helper");
        self.child.wait().expect("reaping helper");
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn helper_command(library: &Path, no_app: &Path) -> Command {
    let mut command = Command::new(helper_binary().unwrap());
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--library"])
        .arg(library)
        .arg("--dist")
        .arg(no_app)
        .env("RUST_LOG", "warn");
    command
}

fn upload_head(addr: &str, item: &str, name: &str, length: usize) -> String {
    format!(
        "PUT /api/batches/crash/items/{item}?filename={name}&capture_time={CAPTURE_TIME} HTTP/1.1\r\n\
         Host: {addr}\r\n\
         x-requested-with: keepsake\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    )
}

/// The bytes of an item's photo: a JPEG's first bytes (the library names a file
/// for what it holds), then distinct per item, and large enough to arrive in
/// several pieces.
fn photo(item: &str, size: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF];
    bytes.extend(item.bytes().cycle().take(size.saturating_sub(3)));
    bytes
}

/// Reads a whole `Connection: close` response: status and body.
fn read_response(mut stream: TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading a response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}

/// A whole upload; answers the status and the JSON body.
fn upload(helper: &Helper, item: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(&helper.addr).expect("connecting to helper");
    let sent = stream
        .write_all(upload_head(&helper.addr, item, name, bytes.len()).as_bytes())
        .and_then(|()| stream.write_all(bytes));
    if let Err(err) = sent {
        // The helper answered before the body was all sent: say what it answered.
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        panic!(
            "uploading {item}: {err}; the helper answered {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    let (status, body) = read_response(stream);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn get(helper: &Helper, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(&helper.addr).expect("connecting to helper");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        helper.addr
    )
    .unwrap();
    let (status, body) = read_response(stream);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Every history row: `(item_id, path)`, following the pages to the end.
fn history(helper: &Helper) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut path = "/api/history?limit=2".to_owned();
    loop {
        let (status, page) = get(helper, &path);
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("a history page") {
            assert_eq!(item["missing"], false, "{item}");
            rows.push((
                item["item_id"].as_str().unwrap().to_owned(),
                item["path"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/history?limit=2&before={next}"),
            None => break,
        }
    }
    rows.sort();
    rows
}

fn is_temp_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(".keepsake-") && name.ends_with(".part"))
}

/// The photos in the library folder (not its index, lock or temp files), relative.
fn photos(library: &Path) -> Vec<String> {
    let mut photos: Vec<String> = walk_files(library)
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            !name.starts_with(".keepsake")
        })
        .map(|path| {
            path.strip_prefix(library)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    photos.sort();
    photos
}

fn temp_files(library: &Path) -> Vec<PathBuf> {
    walk_files(library)
        .into_iter()
        .filter(|path| is_temp_file(path))
        .collect()
}

/// Polls until `check` holds; fails the test after [`STEP`].
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {STEP:?}");
        std::thread::yield_now();
    }
}

#[test]
fn a_kill_mid_upload_leaves_no_temp_file_no_lost_row_and_no_duplicate() {
    let library = tempfile::tempdir().unwrap();
    let no_app = tempfile::tempdir().unwrap();
    let a = photo("item-a", 300 * 1024);
    let b = photo("item-b", 4 * 1024 * 1024);

    let helper = Helper::start(library.path(), no_app.path());
    let (status, saved) = upload(&helper, "item-a", "a.jpg", &a);
    assert_eq!((status, saved["status"].as_str()), (200, Some("saved")));

    // Half of b's body, then nothing: the helper is streaming it into a temp file.
    let mut stream = TcpStream::connect(&helper.addr).unwrap();
    stream
        .write_all(upload_head(&helper.addr, "item-b", "b.jpg", b.len()).as_bytes())
        .unwrap();
    stream.write_all(&b[..b.len() / 2]).unwrap();
    wait_for("the upload's temp file holds bytes", || {
        temp_files(library.path())
            .iter()
            .any(|path| std::fs::metadata(path).is_ok_and(|m| m.len() > 0))
    });
    helper.kill();
    drop(stream);
    assert_eq!(
        temp_files(library.path()).len(),
        1,
        "the kill left the temp file behind"
    );

    let helper = Helper::start(library.path(), no_app.path());
    assert!(
        temp_files(library.path()).is_empty(),
        "swept at start: {:?}",
        temp_files(library.path())
    );
    assert_eq!(
        history(&helper),
        [("item-a".to_owned(), "2021/03/a.jpg".to_owned())],
        "a's row survived, b has none"
    );
    assert_eq!(photos(library.path()), ["2021/03/a.jpg"]);

    // The retry of b saves it once; a again is a duplicate of its one file.
    let (status, saved) = upload(&helper, "item-b", "b.jpg", &b);
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["status"], "saved");
    assert_eq!(saved["path"], "2021/03/b.jpg");
    let (_, again) = upload(&helper, "item-b", "b.jpg", &b);
    assert_eq!(again["status"], "duplicate");
    let (_, again) = upload(&helper, "item-a", "a.jpg", &a);
    assert_eq!(
        (again["status"].as_str(), again["path"].as_str()),
        (Some("duplicate"), Some("2021/03/a.jpg"))
    );
    assert_eq!(photos(library.path()), ["2021/03/a.jpg", "2021/03/b.jpg"]);
    assert_eq!(
        std::fs::read(library.path().join("2021/03/b.jpg")).unwrap(),
        b
    );
    assert_eq!(history(&helper).len(), 2);
}

/// How far an upload gets before its helper is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// The head and none of the body.
    Head,
    /// The whole body sent, no answer read: the helper may be anywhere in the save.
    Body,
    /// The first byte of the answer read: the save has finished.
    Answer,
}

#[test]
fn a_kill_at_any_point_of_a_save_then_a_retry_gives_one_file_and_one_row() {
    let library = tempfile::tempdir().unwrap();
    let no_app = tempfile::tempdir().unwrap();
    let points = [KillAt::Head, KillAt::Body, KillAt::Answer];
    let rounds: Vec<(String, KillAt)> = (0..9)
        .map(|round| (format!("item-{round}"), points[round % points.len()]))
        .collect();

    for (item, kill_at) in &rounds {
        let helper = Helper::start(library.path(), no_app.path());
        let bytes = photo(item, 512 * 1024);
        let mut stream = TcpStream::connect(&helper.addr).unwrap();
        stream
            .write_all(upload_head(&helper.addr, item, "same.jpg", bytes.len()).as_bytes())
            .unwrap();
        match kill_at {
            KillAt::Head => {}
            KillAt::Body => stream.write_all(&bytes).unwrap(),
            KillAt::Answer => {
                stream.write_all(&bytes).unwrap();
                let mut first = [0u8; 1];
                stream.read_exact(&mut first).unwrap();
            }
        }
        helper.kill();
        drop(stream);

        // Restarted: no temp file, and every row names a file with its bytes.
        let helper = Helper::start(library.path(), no_app.path());
        assert!(
            temp_files(library.path()).is_empty(),
            "{item} at {kill_at:?}"
        );
        let rows = history(&helper);
        for (row_item, path) in &rows {
            let on_disk = std::fs::read(library.path().join(path)).unwrap();
            assert_eq!(on_disk, photo(row_item, 512 * 1024), "{path}");
        }
        assert_eq!(
            photos(library.path()).len(),
            rows.len(),
            "a file without a row after killing {item} at {kill_at:?}: {:?} vs {rows:?}",
            photos(library.path())
        );

        // The retry: the item is there once, whatever the kill interrupted.
        let (status, saved) = upload(&helper, item, "same.jpg", &bytes);
        assert_eq!(status, 200, "{saved}");
        let rows = history(&helper);
        assert_eq!(
            rows.iter().filter(|(row_item, _)| row_item == item).count(),
            1,
            "{item} at {kill_at:?}"
        );
        assert_eq!(
            photos(library.path()).len(),
            rows.len(),
            "{item} at {kill_at:?}"
        );
        // Every item asked for one `same.jpg`: names are numbered only because
        // several items share the name, never because one item got two files.
        let mut paths: Vec<_> = rows.iter().map(|(_, path)| path.clone()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), rows.len());
        drop(helper);
    }
    assert_eq!(photos(library.path()).len(), rounds.len());
}

#[test]
fn a_second_helper_on_the_same_library_refuses_to_start_naming_the_folder() {
    let library = tempfile::tempdir().unwrap();
    let no_app = tempfile::tempdir().unwrap();
    let first = Helper::start(library.path(), no_app.path());
    let second = helper_command(library.path(), no_app.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running a second helper");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by another helper")
            && stderr.contains(&library.path().display().to_string()),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&second.stdout).contains("listening on"),
        "the second helper must not serve"
    );
    // The first one still serves.
    let (status, _) = get(&first, "/api/history");
    assert_eq!(status, 200);
}
