//! The `tinykv` command line: argument parsing, one-shot commands, the REPL
//! and script mode. Uses the engine only through its public API.
