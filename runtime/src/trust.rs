//! Which paths bpfq, often run as root, may read definitions from or pin through (the rule of
//! sudo and ssh): every component from `/` down — each directory, each symbolic link on the way
//! and the final entry — is owned by root or the running user, and none is writable by group or
//! others, except a directory with the sticky bit (/tmp, the bpffs root), where only an entry's
//! owner may rename or remove it, so the next component's owner is what counts. `$BPFQ_PATH`,
//! `~/.config/bpfq`, every module file `use` finds and the directory of a pin pass this one
//! check; a query file named on the command line is the user's own choice (like `sh FILE`) and
//! is not checked.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;

use crate::sys;

/// Why a path is not trusted.
#[derive(Debug)]
pub struct Untrusted {
    /// The path that was checked.
    pub path: PathBuf,
    /// The component at fault (the path itself, a parent, or a link on the way).
    pub component: PathBuf,
    pub reason: Reason,
}

#[derive(Debug)]
pub enum Reason {
    /// Owned by a user other than root and the running user.
    Owner { uid: u32 },
    /// Writable by group or others (and, for a directory, not sticky).
    Writable { owner: u32, mode: u32 },
    /// More symbolic links on the way than the kernel would follow.
    TooManyLinks,
    /// lstat(2) or readlink(2) failed (`NotFound`: the path does not exist).
    Io(io::Error),
}

impl Untrusted {
    /// The error of a path that could not be inspected at all (missing, or under a directory
    /// the running user may not search), as opposed to one found untrusted.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.reason {
            Reason::Io(err) => Some(err),
            _ => None,
        }
    }

    /// Whether the path (or one of its parents) simply does not exist.
    pub fn is_missing(&self) -> bool {
        self.io_error()
            .is_some_and(|err| err.kind() == io::ErrorKind::NotFound)
    }

    /// What the user can do about it.
    pub fn fix(&self) -> String {
        let at = self.component.display();
        match &self.reason {
            Reason::Owner { .. } => format!(
                "make {at} owned by root or by you (`chown root {at}`), or use a path only root \
                 or you can change"
            ),
            Reason::Writable { .. } => {
                format!("remove the group and other write bits (`chmod go-w {at}`)")
            }
            Reason::TooManyLinks => format!("resolve the symbolic links under {at}"),
            Reason::Io(_) => format!("check that {at} exists and can be read"),
        }
    }

    /// The coded diagnostic (no source span: the path is the subject).
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error(codes::UNTRUSTED_PATH, format!("bpfq does not trust {self}"))
            .with_note(
                "bpfq reads definitions and pins only through files and directories owned by \
                 root or the running user that no one else can write, as sudo and ssh do",
            )
            .with_note(format!("help: {}", self.fix()))
    }
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        if self.component == self.path {
            write!(f, "it")?;
        } else {
            write!(f, "{}", self.component.display())?;
        }
        match &self.reason {
            Reason::Owner { uid } => write!(
                f,
                " is owned by {}, neither root nor the running user",
                user(*uid)
            ),
            Reason::Writable { owner, mode } => write!(
                f,
                " is writable by {} (mode {:04o}, owner {})",
                writers(*mode),
                mode & 0o7777,
                user(*owner)
            ),
            Reason::TooManyLinks => write!(f, " has too many symbolic links on the way"),
            Reason::Io(err) => write!(f, " cannot be inspected: {err}"),
        }
    }
}

impl std::error::Error for Untrusted {}

/// Checks `path` and every component on the way to it (see the module comment).
pub fn check(path: &Path) -> Result<(), Untrusted> {
    let fail = |component: &Path, reason| Untrusted {
        path: path.to_path_buf(),
        component: component.to_path_buf(),
        reason,
    };
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|err| fail(Path::new("."), Reason::Io(err)))?;
        cwd.join(path)
    };
    let trusted = [0, sys::effective_uid()];
    // Components still to walk, the next one last; `at` is the real directory reached so far.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, &absolute);
    let mut at = PathBuf::from("/");
    check_entry(&at, &trusted, pending.is_empty()).map_err(|r| fail(&at, r))?;
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&part);
        let last = pending.is_empty();
        let meta = check_entry(&next, &trusted, last).map_err(|r| fail(&next, r))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return Err(fail(&next, Reason::TooManyLinks));
            }
            let target = std::fs::read_link(&next).map_err(|err| fail(&next, Reason::Io(err)))?;
            if target.is_absolute() {
                at = PathBuf::from("/");
            }
            push_components(&mut pending, &target);
            continue;
        }
        at = next;
    }
    Ok(())
}

/// Pushes the parts of `path` onto `pending` so that the first part is popped first (`.` is
/// dropped, `..` kept for the walk to resolve against the real directory).
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(parts.into_iter().rev());
}

/// lstat(2)s `entry` and checks its owner and write bits; `last`: nothing follows it.
fn check_entry(entry: &Path, trusted: &[u32], last: bool) -> Result<std::fs::Metadata, Reason> {
    let meta = std::fs::symlink_metadata(entry).map_err(Reason::Io)?;
    if !trusted.contains(&meta.uid()) {
        return Err(Reason::Owner { uid: meta.uid() });
    }
    let kind = meta.file_type();
    let sticky_dir = kind.is_dir() && meta.mode() & 0o1000 != 0;
    // A link's own mode bits mean nothing; a sticky directory protects its entries.
    let writable = meta.mode() & 0o022 != 0 && !kind.is_symlink() && !sticky_dir;
    if writable {
        return Err(Reason::Writable {
            owner: meta.uid(),
            mode: meta.mode(),
        });
    }
    if !last && !kind.is_dir() && !kind.is_symlink() {
        let what = if kind.is_socket() || kind.is_fifo() {
            "a special file"
        } else {
            "not a directory"
        };
        return Err(Reason::Io(io::Error::new(
            io::ErrorKind::NotADirectory,
            what,
        )));
    }
    Ok(meta)
}

/// Who may write, from mode bits: "its group", "others" or "group and others".
fn writers(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

/// `uid 65534 (nobody)`, the name from /etc/passwd when it has one.
pub fn user(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_name_who_may_write() {
        assert_eq!(writers(0o40777), "group and others");
        assert_eq!(writers(0o100664), "its group");
        assert_eq!(writers(0o100646), "others");
    }

    /// Which paths under a fresh directory in /tmp pass (run as root, like the kernel tests:
    /// it gives files to nobody).
    #[test]
    fn owners_write_bits_sticky_directories_and_links() {
        use std::os::unix::fs::{chown, lchown, symlink, PermissionsExt};
        let base = std::env::temp_dir().join(format!("bpfq_trust_unit_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let chmod = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        chmod(&base, 0o755);
        let sticky = base.join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        chmod(&sticky, 0o1777);
        let mine = sticky.join("mine.bpfq");
        std::fs::write(&mine, "").unwrap();
        chmod(&mine, 0o644);
        let theirs = sticky.join("theirs.bpfq");
        std::fs::write(&theirs, "").unwrap();
        chown(&theirs, Some(65534), None).unwrap();
        let their_link = sticky.join("their_link.bpfq");
        symlink(&mine, &their_link).unwrap();
        lchown(&their_link, Some(65534), None).unwrap();
        let my_link = base.join("my_link");
        symlink("sticky/../sticky/mine.bpfq", &my_link).unwrap();
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let verdicts: Vec<(PathBuf, Option<PathBuf>)> =
            [&mine, &theirs, &their_link, &my_link, &open.join("x.bpfq")]
                .iter()
                .map(|p| (p.to_path_buf(), check(p).err().map(|e| e.component)))
                .collect();
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(
            verdicts,
            vec![
                (mine.clone(), None),
                (theirs.clone(), Some(theirs.clone())),
                (their_link.clone(), Some(their_link.clone())),
                (my_link.clone(), None),
                // Missing, but the open directory is refused before that is found out.
                (open.join("x.bpfq"), Some(open.clone())),
            ]
        );
    }

    #[test]
    fn a_missing_path_is_reported_as_missing() {
        let err = check(Path::new("/nonexistent-bpfq-trust/x.bpfq")).unwrap_err();
        assert!(err.is_missing(), "{err}");
    }
}
