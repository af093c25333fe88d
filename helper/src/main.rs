//! `helper`: Keepsake's helper binary. `helper serve --demo` runs the whole product
//! against the built-in Google emulator; `helper --help` lists every command.

fn main() -> std::process::ExitCode {
    helper::cli::main()
}
