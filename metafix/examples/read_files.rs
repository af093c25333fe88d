//! Prints what `metafix::read` finds in files, as JSON:
//! `cargo run -p metafix --example read_files -- FILE...`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in std::env::args().skip(1) {
        let input = std::fs::read(&file)?;
        match metafix::read(&input) {
            Ok(meta) => println!("{file}: {}", serde_json::to_string(&meta)?),
            Err(e) => println!("{file}: error: {e}"),
        }
    }
    Ok(())
}
