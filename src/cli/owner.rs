//! Who owns a database, and where the owner can be reached (PRODUCT.md §7).
//!
//! The owner is whoever holds the database's lock. An owner that lives
//! longer than one command (the REPL, a script, `serve`) serves the
//! database to the other tinykv processes of its user on a Unix socket,
//! and says so in the note it leaves in the lock file after its pid
//! ([`Owner::note`]): what it is and where its socket is. A process that
//! finds the database locked reads that note from the lock error and
//! connects; it never guesses a path, so the socket may live wherever fits.
//!
//! Where the socket lives: `$XDG_RUNTIME_DIR/tinykv/` (a directory only
//! the user can enter, emptied at logout), else `/tmp/tinykv-UID/`, made
//! with mode 0700 and refused when it belongs to someone else or others
//! may enter it; the name is the database directory's last component and
//! a hash of its full path, so it stays within the 107 bytes a socket path
//! may have however deep the database is.
//!
//! Invariants: a note is advice, never a lock (the OS lock decides who
//! owns the database, so a killed owner's note and socket stop nobody:
//! the next owner overwrites the note and replaces the socket); the socket
//! is the owner's user's only (0600 in a 0700 directory, and the owner
//! checks each peer's uid as well).

use std::fmt;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The longest path a Unix socket can have (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;
/// The first line of a note, so that a note of another kind is not read
/// as ours.
const NOTE_MAGIC: &str = "tinykv owner";

/// What kind of process owns a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An interactive REPL.
    Repl,
    /// A script session (`tinykv -f FILE`, or commands piped to stdin).
    Script,
    /// `tinykv serve`.
    Serve,
}

impl Kind {
    /// The word in the note.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Repl => "repl",
            Kind::Script => "script",
            Kind::Serve => "serve",
        }
    }

    /// The kind a note names.
    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Repl, Kind::Script, Kind::Serve]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Repl => "tinykv REPL",
            Kind::Script => "tinykv script",
            Kind::Serve => "tinykv serve",
        })
    }
}

/// The owner of a database as its lock file describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// Its process id.
    pub pid: Option<u32>,
    /// What it is, when it said.
    pub kind: Option<Kind>,
    /// Where it serves the database, when it does.
    pub socket: Option<PathBuf>,
}

impl Owner {
    /// The note an owner of `kind` serving on `socket` leaves in the lock file.
    pub fn note(kind: Kind, socket: &Path) -> String {
        format!(
            "{NOTE_MAGIC}\nkind={}\nsocket={}\n",
            kind.name(),
            socket.display()
        )
    }

    /// The owner described by a lock error's pid and note.
    pub fn parse(pid: Option<u32>, note: &str) -> Owner {
        let mut owner = Owner {
            pid,
            ..Owner::default()
        };
        let mut lines = note.lines();
        if lines.next() != Some(NOTE_MAGIC) {
            return owner;
        }
        for line in lines {
            match line.split_once('=') {
                Some(("kind", k)) => owner.kind = Kind::from_name(k),
                Some(("socket", s)) if !s.is_empty() => owner.socket = Some(PathBuf::from(s)),
                _ => {}
            }
        }
        owner
    }
}

impl fmt::Display for Owner {
    /// `a tinykv REPL (pid 123)`, or `another tinykv process (pid 123)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(kind) => write!(f, "a {kind}")?,
            None => write!(f, "another tinykv process")?,
        }
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        Ok(())
    }
}

/// This process's user id.
pub fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The user id a process runs as, from `/proc` (`None` where that cannot
/// be read: the process is gone, or no `/proc`).
pub fn uid_of(pid: u32) -> Option<u32> {
    fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid())
}

/// Where the owner of the database in `dir` puts its socket: see the
/// module doc. `runtime` is `$XDG_RUNTIME_DIR`, when set.
pub fn socket_path(dir: &Path, runtime: Option<&Path>) -> Result<PathBuf> {
    let full = fs::canonicalize(dir)
        .with_context(|| format!("cannot resolve the path of {}", dir.display()))?;
    let hash = fnv1a(full.as_os_str().as_encoded_bytes());
    let stem: String = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(24)
        .collect();
    let name = format!("{stem}-{hash:016x}.sock");
    let bases = runtime
        .filter(|r| r.is_absolute() && r.to_str().is_some())
        .map(|r| r.join("tinykv"))
        .into_iter()
        .chain([PathBuf::from(format!("/tmp/tinykv-{}", uid()))]);
    for base in bases {
        let path = base.join(&name);
        if path.as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(path);
        }
    }
    bail!("no socket path short enough for {}", dir.display())
}

/// Makes the socket's directory (mode 0700) and checks that only this
/// user can enter it: a directory another user made in /tmp could let
/// them replace the socket.
pub fn prepare_socket_dir(socket: &Path) -> Result<()> {
    let Some(dir) = socket.parent() else {
        bail!("{} has no directory", socket.display());
    };
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta =
        fs::symlink_metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid() || meta.mode() & 0o077 != 0 {
        bail!(
            "{} is not a private directory of this user (it must be owned by uid {} with mode 0700)",
            dir.display(),
            uid()
        );
    }
    Ok(())
}

/// Makes a bound socket file reachable by its owner only.
pub fn restrict(socket: &Path) -> Result<()> {
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))
}

/// FNV-1a, 64 bits: a name from a path, stable across builds (the socket
/// path is only ever read back from the note, but a stable name keeps a
/// crashed owner's socket in one place, where the next owner replaces it).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_round_trips_and_strangers_notes_are_ignored() {
        let note = Owner::note(Kind::Repl, Path::new("/run/user/1/tinykv/db-1.sock"));
        let owner = Owner::parse(Some(42), &note);
        assert_eq!(owner.kind, Some(Kind::Repl));
        assert_eq!(
            owner.socket.as_deref(),
            Some(Path::new("/run/user/1/tinykv/db-1.sock"))
        );
        assert_eq!(owner.to_string(), "a tinykv REPL (pid 42)");
        let stranger = Owner::parse(Some(7), "kind=serve\nsocket=/x\n");
        assert_eq!(stranger.socket, None);
        assert_eq!(stranger.to_string(), "another tinykv process (pid 7)");
        assert_eq!(Owner::parse(None, "").to_string(), "another tinykv process");
    }

    #[test]
    fn socket_paths_fit_however_deep_the_database() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("d".repeat(200)).join("e".repeat(200));
        fs::create_dir_all(&deep).unwrap();
        let runtime = tempfile::tempdir().unwrap();
        let path = socket_path(&deep, Some(runtime.path())).unwrap();
        assert!(path.as_os_str().len() <= MAX_SOCKET_PATH, "{path:?}");
        assert!(path.starts_with(runtime.path().join("tinykv")));
        // Two directories, two sockets; the same one, the same socket.
        let other = root.path().join("other");
        fs::create_dir(&other).unwrap();
        assert_ne!(path, socket_path(&other, Some(runtime.path())).unwrap());
        assert_eq!(path, socket_path(&deep, Some(runtime.path())).unwrap());
        // A runtime directory too deep for a socket: /tmp instead.
        let too_deep = Path::new("/").join("r".repeat(120));
        let path = socket_path(&deep, Some(&too_deep)).unwrap();
        assert!(
            path.starts_with(format!("/tmp/tinykv-{}", uid())),
            "{path:?}"
        );
        prepare_socket_dir(&socket_path(&other, Some(runtime.path())).unwrap()).unwrap();
        let base = runtime.path().join("tinykv");
        assert_eq!(fs::metadata(&base).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(prepare_socket_dir(&base.join("x.sock")).is_err());
    }
}
