//! The library's behaviour through its façade, each crash window included.

use super::index::Claim;
use super::*;
use api::SaveStatus;
use jiff::Timestamp;
use std::convert::Infallible;
use std::{fs, io};

fn request(item: &str, name: &str) -> SaveRequest {
    SaveRequest {
        batch: "b1".parse().unwrap(),
        item_id: item.parse().unwrap(),
        filename: name.into(),
        capture_time: Some("2019-07-14T11:31:12+02:00".parse().unwrap()),
    }
}

fn body(bytes: &'static [u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
    futures_util::stream::iter(vec![Ok(Bytes::from_static(bytes))])
}

#[tokio::test]
async fn save_writes_into_year_month_with_capture_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let outcome = library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFjpeg bytes"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, SaveStatus::Saved);
    assert_eq!(outcome.path, "2019/07/IMG_1.jpg");
    let path = dir.path().join("2019/07/IMG_1.jpg");
    assert_eq!(fs::read(&path).unwrap(), b"\xFF\xD8\xFFjpeg bytes");
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let expected: std::time::SystemTime = "2019-07-14T09:31:12Z"
        .parse::<Timestamp>()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(mtime, expected);
    // No temp file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path().join("2019/07"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("IMG_1.jpg")]);
}

#[tokio::test]
async fn same_item_twice_is_a_duplicate_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFfirst"),
        )
        .await
        .unwrap();
    let mut again = request("item1", "IMG_1.jpg");
    again.batch = "b2".parse().unwrap();
    let outcome = library
        .save(&Owner::Single, again, body(b"\xFF\xD8\xFFsecond"))
        .await
        .unwrap();
    assert_eq!(outcome.status, SaveStatus::Duplicate);
    assert_eq!(
        fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
        b"\xFF\xD8\xFFfirst"
    );
    // The duplicate still belongs to the second batch (so its zip has it).
    assert_eq!(
        library
            .batch_files(&Owner::Single, &"b2".parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("2019/07")).unwrap();
    fs::write(dir.path().join("2019/07/IMG_1.jpg"), b"user's own file").unwrap();
    let library = Library::open(dir.path()).unwrap();
    let outcome = library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFnew"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.path, "2019/07/IMG_1 (2).jpg");
    assert_eq!(
        fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
        b"user's own file"
    );
    assert_eq!(
        fs::read(dir.path().join("2019/07/IMG_1 (2).jpg")).unwrap(),
        b"\xFF\xD8\xFFnew"
    );
}

#[tokio::test]
async fn a_broken_upload_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"\xFF\xD8\xFFpartial")),
        Err(io::Error::other("connection reset")),
    ]);
    let err = library
        .save(&Owner::Single, request("item1", "IMG_1.jpg"), broken)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UploadBroke(_)), "{err}");
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("2019/07")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        library
            .find(&Owner::Single, &"item1".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_empty_upload_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let err = library
        .save(&Owner::Single, request("item1", "a.jpg"), body(b""))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmptyUpload), "{err}");
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("2019/07")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn members_have_their_own_folders_and_items() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let ana = Owner::Member("ana".into());
    let saved = library
        .save(&ana, request("item1", "a.jpg"), body(b"\xFF\xD8\xFFana's"))
        .await
        .unwrap();
    assert_eq!(saved.status, SaveStatus::Saved);
    assert!(dir.path().join("ana/2019/07/a.jpg").is_file());
    // The same item for another owner is not a duplicate of ana's.
    let single = library
        .save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFmine"),
        )
        .await
        .unwrap();
    assert_eq!(single.status, SaveStatus::Saved);
    assert_eq!(
        library.history(&ana, None, 10).await.unwrap().items.len(),
        1
    );
    assert_eq!(
        library
            .history(&Owner::Single, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

/// The files under `dir`, relative, sorted; the index and lock file left out.
fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| !p.starts_with(".keepsake.") && !p.starts_with(".keepsake.sqlite3"))
        .collect();
    files.sort();
    files
}

/// Runs steps 1 to 4 of a save (see [`Library`]) and stops before the row,
/// as a `kill -9` right after the rename would.
async fn save_up_to_the_rename(library: &Library, request: &SaveRequest, bytes: &'static [u8]) {
    let relative_dir = request.relative_dir();
    let floor = SpaceFloor {
        dir: library.root().join(&relative_dir),
        min_free_bytes: 0,
    };
    let temp = store::create_temp(&floor).unwrap();
    let written = store::write_body(temp, body(bytes), &floor).await.unwrap();
    store::seal(
        &written.temp,
        0o644,
        request.capture_time.map(|t| t.instant),
    )
    .unwrap();
    let name = names::sanitize_filename(&request.filename);
    library
        .shared
        .publisher
        .index()
        .claim(&Claim {
            owner: String::new(),
            item_id: request.item_id.clone(),
            path: format!("{relative_dir}/{name}"),
            size: written.size,
            sha256: written.sha256.clone(),
            crc32: Some(written.crc32),
            capture_time: request.capture_time,
            batch: request.batch.clone(),
            claimed_at: Timestamp::now(),
        })
        .unwrap();
    assert!(store::link(written.temp, &floor.dir.join(&name)).is_ok());
}

#[cfg(unix)]
#[tokio::test]
async fn saved_files_are_readable_by_everyone_unless_configured() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    library
        .save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFx"),
        )
        .await
        .unwrap();
    let mode = fs::metadata(dir.path().join("2019/07/a.jpg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);
    drop(library);

    let options = LibraryOptions {
        file_mode: 0o640,
        ..LibraryOptions::default()
    };
    let library = Library::open_with(dir.path(), options).unwrap();
    library
        .save(
            &Owner::Single,
            request("item2", "b.jpg"),
            body(b"\xFF\xD8\xFFy"),
        )
        .await
        .unwrap();
    let mode = fs::metadata(dir.path().join("2019/07/b.jpg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640);
}

#[test]
fn file_modes_are_parsed_as_octal_and_checked() {
    assert_eq!(parse_file_mode("644"), Ok(0o644));
    assert_eq!(parse_file_mode("0644"), Ok(0o644));
    assert_eq!(parse_file_mode("0o600"), Ok(0o600));
    for bad in [
        "",
        "rw-r--r--",
        "0x1a4",
        "888",
        "4755",
        "1777",
        "0044",
        "-644",
    ] {
        assert!(parse_file_mode(bad).is_err(), "{bad}");
    }
    let dir = tempfile::tempdir().unwrap();
    let options = LibraryOptions {
        file_mode: 0o4755,
        ..LibraryOptions::default()
    };
    let err = Library::open_with(dir.path(), options).unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
}

#[tokio::test]
async fn a_second_open_of_the_same_folder_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = Library::open(dir.path()).unwrap();
    let err = Library::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    // Clones share the lock; it goes with the last of them.
    let clone = first.clone();
    drop(first);
    assert!(Library::open(dir.path()).is_err());
    drop(clone);
    Library::open(dir.path()).unwrap();
}

#[tokio::test]
async fn open_sweeps_temp_files_left_by_a_killed_upload() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    library
        .save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFkept"),
        )
        .await
        .unwrap();
    assert_eq!(library.open_report(), OpenReport::default());
    drop(library);
    // What a killed upload leaves: a temp file with some bytes, here and in a
    // member's folder.
    fs::write(
        dir.path().join("2019/07/.keepsake-Ab12Cd.part"),
        b"\xFF\xD8\xFFhalf",
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("ana/2020/01")).unwrap();
    fs::write(
        dir.path().join("ana/2020/01/.keepsake-Xy34Zw.part"),
        b"\xFF\xD8\xFFhalf",
    )
    .unwrap();

    let library = Library::open(dir.path()).unwrap();
    assert_eq!(library.open_report().swept_temp_files, 2);
    assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
    assert!(
        library
            .find(&Owner::Single, &"item1".parse().unwrap())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_crash_between_the_rename_and_the_row_is_recovered_without_a_second_file() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    save_up_to_the_rename(
        &library,
        &request("item1", "IMG_1.jpg"),
        b"\xFF\xD8\xFFphoto",
    )
    .await;
    drop(library);

    let library = Library::open(dir.path()).unwrap();
    assert_eq!(
        library.open_report(),
        OpenReport {
            recovered_saves: 1,
            ..OpenReport::default()
        }
    );
    let row = library
        .find(&Owner::Single, &"item1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.path.as_str(), row.missing),
        ("2019/07/IMG_1.jpg", false)
    );
    // It belongs to its batch, as if the save had finished.
    assert_eq!(
        library
            .batch_files(&Owner::Single, &"b1".parse().unwrap())
            .await
            .unwrap(),
        [row]
    );
    // The retry is a duplicate of the file in place.
    let retry = library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFphoto"),
        )
        .await
        .unwrap();
    assert_eq!(retry.status, SaveStatus::Duplicate);
    assert_eq!(retry.path, "2019/07/IMG_1.jpg");
    assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
}

#[tokio::test]
async fn a_failed_row_is_finished_by_the_next_save_of_the_item() {
    // The same state as a crash after the rename, but in a running helper (the
    // row could not be written): the next upload must not write `IMG_1 (2).jpg`.
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    save_up_to_the_rename(
        &library,
        &request("item1", "IMG_1.jpg"),
        b"\xFF\xD8\xFFphoto",
    )
    .await;
    let retry = library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFphoto"),
        )
        .await
        .unwrap();
    assert_eq!(
        (retry.status, retry.path.as_str()),
        (SaveStatus::Duplicate, "2019/07/IMG_1.jpg")
    );
    assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
    let history = library.history(&Owner::Single, None, 10).await.unwrap();
    assert_eq!(history.items.len(), 1);
}

#[tokio::test]
async fn a_crash_before_the_rename_leaves_nothing_and_the_retry_takes_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let request = request("item1", "IMG_1.jpg");
    // Claimed, but killed before the rename: the temp file is still there.
    let floor = SpaceFloor {
        dir: dir.path().join("2019/07"),
        min_free_bytes: 0,
    };
    let temp = store::create_temp(&floor).unwrap();
    let written = store::write_body(temp, body(b"\xFF\xD8\xFFphoto"), &floor)
        .await
        .unwrap();
    library
        .shared
        .publisher
        .index()
        .claim(&Claim {
            owner: String::new(),
            item_id: request.item_id.clone(),
            path: "2019/07/IMG_1.jpg".into(),
            size: written.size,
            sha256: written.sha256.clone(),
            crc32: Some(written.crc32),
            capture_time: request.capture_time,
            batch: request.batch.clone(),
            claimed_at: Timestamp::now(),
        })
        .unwrap();
    let (_file, temp_path) = written.temp.keep().unwrap();
    assert!(temp_path.is_file());
    drop(library);

    let library = Library::open(dir.path()).unwrap();
    assert_eq!(
        library.open_report(),
        OpenReport {
            swept_temp_files: 1,
            recovered_saves: 0,
            abandoned_saves: 1,
            ..OpenReport::default()
        }
    );
    assert!(files_under(dir.path()).is_empty());
    let retry = library
        .save(&Owner::Single, request, body(b"\xFF\xD8\xFFphoto"))
        .await
        .unwrap();
    assert_eq!(
        (retry.status, retry.path.as_str()),
        (SaveStatus::Saved, "2019/07/IMG_1.jpg")
    );
    assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
}

#[tokio::test]
async fn a_claim_whose_name_now_holds_another_file_keeps_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    save_up_to_the_rename(
        &library,
        &request("item1", "IMG_1.jpg"),
        b"\xFF\xD8\xFFphoto",
    )
    .await;
    drop(library);
    // Before the restart, someone replaces the file with their own.
    fs::write(dir.path().join("2019/07/IMG_1.jpg"), b"someone else's").unwrap();

    let library = Library::open(dir.path()).unwrap();
    assert_eq!(library.open_report().abandoned_saves, 1);
    let outcome = library
        .save(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            body(b"\xFF\xD8\xFFphoto"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.path, "2019/07/IMG_1 (2).jpg");
    assert_eq!(
        fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
        b"someone else's"
    );
}

#[tokio::test]
async fn a_missing_file_is_reported_and_saved_again() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    library
        .save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFfirst"),
        )
        .await
        .unwrap();
    fs::remove_file(dir.path().join("2019/07/a.jpg")).unwrap();

    // The row stays, marked missing, in the history, the batch and `find`.
    let page = library.history(&Owner::Single, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.items[0].missing);
    let batch = library
        .batch_files(&Owner::Single, &"b1".parse().unwrap())
        .await
        .unwrap();
    assert!(batch[0].missing);
    let item: ItemId = "item1".parse().unwrap();
    assert!(
        library
            .find(&Owner::Single, &item)
            .await
            .unwrap()
            .unwrap()
            .missing
    );

    // A broken re-save keeps reporting it.
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"\xFF\xD8\xFFpar")),
        Err(io::Error::other("connection reset")),
    ]);
    assert!(
        library
            .save(&Owner::Single, request("item1", "a.jpg"), broken)
            .await
            .is_err()
    );
    assert!(
        library
            .find(&Owner::Single, &item)
            .await
            .unwrap()
            .unwrap()
            .missing
    );

    // Saving it again writes it anew under its name, and the row follows.
    let mut again = request("item1", "a.jpg");
    again.batch = "b2".parse().unwrap();
    let outcome = library
        .save(&Owner::Single, again, body(b"\xFF\xD8\xFFsecond"))
        .await
        .unwrap();
    assert_eq!(
        (outcome.status, outcome.path.as_str()),
        (SaveStatus::Saved, "2019/07/a.jpg")
    );
    let page = library.history(&Owner::Single, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(!page.items[0].missing);
    assert_eq!(page.items[0].batch.as_str(), "b2");
    assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
}

#[tokio::test]
async fn a_floor_above_the_free_space_refuses_the_upload_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = LibraryOptions {
        min_free_bytes: u64::MAX,
        ..LibraryOptions::default()
    };
    let library = Library::open_with(dir.path(), options).unwrap();
    let err = library
        .save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFx"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LowSpace { .. }), "{err}");
    assert!(err.to_string().contains("free space"), "{err}");
    assert!(files_under(dir.path()).is_empty());
    assert!(
        library
            .find(&Owner::Single, &"item1".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_upload_that_grows_past_the_floor_is_stopped_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    // Free space is fine when the upload starts...
    let start = SpaceFloor {
        dir: dir.path().join("2019/07"),
        min_free_bytes: 0,
    };
    let temp = store::create_temp(&start).unwrap();
    let temp_path = temp.path().to_owned();
    // ...and then runs out: the floor is checked again as the body grows.
    let growing = SpaceFloor {
        min_free_bytes: u64::MAX,
        ..start
    };
    let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
    let chunks =
        futures_util::stream::iter((0..32).map(move |_| Ok::<_, Infallible>(chunk.clone())));
    let err = store::write_body(temp, chunks, &growing)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::LowSpace { .. }), "{err}");
    assert!(!temp_path.exists());
}

#[tokio::test]
async fn two_uploads_of_one_item_at_once_leave_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let (a, b) = tokio::join!(
        library.save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFsame")
        ),
        library.save(
            &Owner::Single,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFsame")
        ),
    );
    let mut statuses = [a.unwrap().status, b.unwrap().status];
    statuses.sort_by_key(|s| *s == SaveStatus::Saved);
    assert_eq!(statuses, [SaveStatus::Duplicate, SaveStatus::Saved]);
    assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
}

#[tokio::test]
async fn history_comes_in_pages_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    for i in 0..5 {
        library
            .save(
                &Owner::Single,
                request(&format!("item{i}"), &format!("{i}.jpg")),
                body(b"\xFF\xD8\xFFx"),
            )
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = library.history(&Owner::Single, before, 2).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|f| f.item_id.to_string()));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, ["item0", "item1", "item2", "item3", "item4"]);
    // A page that ends exactly at the last item says there is no next one.
    let all = library.history(&Owner::Single, None, 5).await.unwrap();
    assert_eq!((all.items.len(), all.next), (5, None));
}

#[tokio::test]
async fn implausible_capture_years_are_saved_under_unknown_date() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let mut zero = request("item1", "a.jpg");
    zero.capture_time = Some("0000-01-01T00:00:00Z".parse().unwrap());
    let outcome = library
        .save(&Owner::Single, zero, body(b"\xFF\xD8\xFFx"))
        .await
        .unwrap();
    assert_eq!(outcome.path, "unknown-date/a.jpg");
    assert!(dir.path().join("unknown-date/a.jpg").is_file());
}

#[tokio::test]
async fn a_file_without_a_date_is_saved_under_unknown_date_with_no_capture_time() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let mut dateless = request("item1", "shot.png");
    dateless.capture_time = None;
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
    let outcome = library
        .save(&Owner::Single, dateless, body(b"\x89PNG\r\n\x1a\npng"))
        .await
        .unwrap();
    assert_eq!(outcome.path, "unknown-date/shot.png");
    // Its mtime is when it was saved: there was no capture time to give it.
    let mtime = fs::metadata(dir.path().join(&outcome.path))
        .unwrap()
        .modified()
        .unwrap();
    assert!(mtime > before);
    let saved = library
        .find(&Owner::Single, &"item1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((saved.capture_time, saved.capture_local), (None, None));
}

/// A download on disk: the bytes `0..len`.
fn download(dir: &Path, len: usize) -> (PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.join("a.download");
    fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[tokio::test]
async fn a_kept_download_is_the_patch_applied_with_its_hashes_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(&dir.path().join("lib")).unwrap();
    // Larger than one copy buffer, so copies cross it.
    let (path, original) = download(dir.path(), 3 << 20 | 5);
    let len = original.len() as u64;
    let pieces = vec![
        metafix::Piece::Bytes(b"\xFF\xD8\xFF".to_vec()),
        metafix::Piece::Copy(0..2),
        metafix::Piece::Bytes(b"NEW".to_vec()),
        metafix::Piece::Copy(10..len),
    ];
    let (outcome, _) = library
        .keep(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            path.clone(),
            len,
            pieces,
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, SaveStatus::Saved);
    let saved = fs::read(dir.path().join("lib").join(&outcome.path)).unwrap();
    let mut expected = b"\xFF\xD8\xFF".to_vec();
    expected.extend_from_slice(&original[..2]);
    expected.extend_from_slice(b"NEW");
    expected.extend_from_slice(&original[10..]);
    assert_eq!(saved, expected);
    use sha2::Digest;
    assert_eq!(outcome.sha256, hex::encode(sha2::Sha256::digest(&expected)));
    let row = library
        .find(&Owner::Single, &"item1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crc32, Some(crc32fast::hash(&expected)));
    // Kept again: the library holds it, nothing is written.
    let (again, _) = library
        .keep(
            &Owner::Single,
            request("item1", "IMG_1.jpg"),
            path,
            len,
            vec![metafix::Piece::Copy(0..len)],
        )
        .await
        .unwrap();
    assert_eq!(again.status, SaveStatus::Duplicate);
    assert_eq!(files_under(&dir.path().join("lib")), ["2019/07/IMG_1.jpg"]);
}

#[tokio::test]
async fn a_patch_outside_its_download_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(&dir.path().join("lib")).unwrap();
    let (path, _) = download(dir.path(), 100);
    for pieces in [
        vec![metafix::Piece::Copy(0..101)],
        vec![
            metafix::Piece::Bytes(vec![1]),
            metafix::Piece::Copy(200..300),
        ],
    ] {
        let err = library
            .keep(
                &Owner::Single,
                request("item1", "a.jpg"),
                path.clone(),
                100,
                pieces,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PatchOutsideDownload { .. }), "{err}");
    }
    let err = library
        .keep(&Owner::Single, request("item1", "a.jpg"), path, 100, vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmptyPatch), "{err}");
    assert!(files_under(&dir.path().join("lib")).is_empty());
}

fn member(name: &str, since: Option<&str>, adopt: bool) -> CurrentMember {
    CurrentMember {
        name: name.into(),
        since: since.map(|t| t.parse().unwrap()),
        adopt,
    }
}

#[tokio::test]
async fn a_removed_members_library_is_set_aside_whole_and_can_be_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let ana = Owner::Member("ana".into());
    let bo = Owner::Member("bo".into());
    library
        .save(&ana, request("item1", "a.jpg"), body(b"\xFF\xD8\xFFana's"))
        .await
        .unwrap();
    library
        .save(&bo, request("item1", "b.jpg"), body(b"\xFF\xD8\xFFbo's"))
        .await
        .unwrap();
    let both = || vec![member("ana", None, false), member("bo", None, false)];
    assert_eq!(library.settle_owners(both()).await.unwrap(), []);

    // Ana removed: her rows and folder move aside together; Bo is untouched.
    let settled = library
        .settle_owners(vec![member("bo", None, false)])
        .await
        .unwrap();
    let [Settled::SetAside { name, key }] = settled.as_slice() else {
        panic!("{settled:?}");
    };
    assert_eq!(name, "ana");
    assert!(
        key.starts_with("ana (removed ") && key.ends_with("Z)"),
        "{key}"
    );
    assert!(!dir.path().join("ana").exists());
    assert_eq!(
        fs::read(dir.path().join(key).join("2019/07/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFana's"
    );
    assert!(
        library
            .history(&ana, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let aside = Owner::Member(key.clone());
    assert_eq!(
        library.history(&aside, None, 10).await.unwrap().items.len(),
        1
    );
    assert_eq!(library.history(&bo, None, 10).await.unwrap().items.len(), 1);
    // Settling again changes nothing.
    assert_eq!(library.settle_owners(both()).await.unwrap(), []);

    // A new Ana saves the same item: hers, not a duplicate of the old Ana's.
    let new = library
        .save(
            &ana,
            request("item1", "a.jpg"),
            body(b"\xFF\xD8\xFFnew ana's"),
        )
        .await
        .unwrap();
    assert_eq!(new.status, SaveStatus::Saved);
    assert_eq!(new.path, "2019/07/a.jpg");

    // Adopting while she has a library of her own takes nothing.
    let adopting = vec![member("ana", None, true), member("bo", None, false)];
    assert_eq!(library.settle_owners(adopting.clone()).await.unwrap(), []);

    // A member added after the rows of their name (the name given to someone new
    // while the helper was stopped): set aside. Then adopted back.
    let later = vec![
        member("ana", None, false),
        member("bo", Some("2100-01-01T00:00:00Z"), false),
    ];
    let settled = library.settle_owners(later).await.unwrap();
    assert!(
        matches!(settled.as_slice(), [Settled::SetAside { name, .. }] if name == "bo"),
        "{settled:?}"
    );
    assert!(
        library
            .history(&bo, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let adopting = vec![member("ana", None, false), member("bo", None, true)];
    let settled = library.settle_owners(adopting).await.unwrap();
    assert!(
        matches!(settled.as_slice(), [Settled::Adopted { name, .. }] if name == "bo"),
        "{settled:?}"
    );
    assert_eq!(library.history(&bo, None, 10).await.unwrap().items.len(), 1);
    assert_eq!(
        fs::read(dir.path().join("bo/2019/07/b.jpg")).unwrap(),
        b"\xFF\xD8\xFFbo's"
    );
}

/// A crash after a library's rows moved but before its folder did: the next
/// settle moves the folder after its rows.
#[tokio::test]
async fn a_set_aside_cut_short_by_a_crash_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(dir.path()).unwrap();
    let ana = Owner::Member("ana".into());
    library
        .save(&ana, request("item1", "a.jpg"), body(b"\xFF\xD8\xFFana's"))
        .await
        .unwrap();
    let key = owner::set_aside_key("ana", "2026-12-04T03:15:22Z".parse().unwrap(), 0);
    assert_eq!(key, "ana (removed 2026-12-04T031522Z)");
    library.shared.publisher.index().rekey("ana", &key).unwrap();
    assert_eq!(library.settle_owners(vec![]).await.unwrap(), []);
    assert!(!dir.path().join("ana").exists());
    assert!(dir.path().join(&key).join("2019/07/a.jpg").is_file());
    let aside = Owner::Member(key);
    let history = library.history(&aside, None, 10).await.unwrap();
    assert!(!history.items[0].missing, "{history:?}");
}
