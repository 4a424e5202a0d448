//! The `tinykv` binary: everything lives in [`tinykv::cli`].

fn main() -> std::process::ExitCode {
    tinykv::cli::main()
}
