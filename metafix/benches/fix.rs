//! `fix` over the corpus files in memory (`../shared/corpus`, beside the checkout):
//! `cargo bench -p metafix --bench fix`. Reports MB/s (`fix` + `assemble`, the whole
//! output produced) and files/s (`fix` alone: the header the browser builds).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metafix::{FixOptions, ItemContext, fix};

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"));
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md")
                && let Ok(bytes) = std::fs::read(&path)
            {
                files.push(bytes);
            }
        }
    }
    files
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    if files.is_empty() {
        eprintln!("SKIPPED: no corpus at ../shared/corpus beside the checkout");
        return;
    }
    let bytes: usize = files.iter().map(Vec::len).sum();
    eprintln!("corpus: {} files, {bytes} bytes", files.len());
    let options = FixOptions::default()
        .with_artist("Bench Artist")
        .with_copyright("(c) Bench");
    let item = ItemContext::default()
        .with_create_time(jiff::Timestamp::from_second(1_589_710_830).expect("a valid timestamp"));

    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("fix+assemble (MB/s)", |b| {
        b.iter(|| {
            for f in &files {
                let fixed = fix(black_box(f), &options, &item);
                black_box(fixed.assemble(f));
            }
        })
    });
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("fix (files/s)", |b| {
        b.iter(|| {
            for f in &files {
                black_box(fix(black_box(f), &options, &item));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
