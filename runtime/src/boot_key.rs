//! The key that hides kernel addresses, the same for every run of one boot (like the kernel's
//! `%p`), so two runs' tokens compare, yet not derivable by anyone else: a random 128-bit key
//! kept in a root-only file (`pointer-key`, mode 0600, in a directory of /run, a tmpfs) next to
//! the boot id it was made for. The boot id is world-readable, so it only tells a stale file
//! (a /run that outlived a boot); it is never the key. Guarantees: a file that is not a regular
//! file owned by the running user with no group or other permissions, or whose directory is
//! not trusted (`trust::check`), is never read nor written through; a key made by a run that
//! raced this one is the one both use (created under a temporary name, then linked without
//! replacing); where nothing can be read or created, a per-run key and the reason why.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::format::PointerKey;
use crate::probe::boot_id;
use crate::sys;

/// The file's name in the key directory.
pub const KEY_FILE: &str = "pointer-key";

/// The key for this boot from `dir`, created there if missing or stale; when that fails, a
/// per-run random key and why (for a note to the user).
pub fn boot_pointer_key(dir: &Path) -> (PointerKey, Option<String>) {
    match read_or_create(dir) {
        Ok(key) => (key, None),
        Err(err) => (
            PointerKey::random(),
            Some(format!(
                "hidden pointers are hashed with a key for this run only (not comparable with \
                 other runs): {}: {err}",
                dir.join(KEY_FILE).display()
            )),
        ),
    }
}

fn read_or_create(dir: &Path) -> io::Result<PointerKey> {
    let boot = boot_id()?;
    // The probe cache may have made the directory already; a failure shows in the check.
    let _ = std::fs::create_dir_all(dir);
    crate::trust::check(dir)
        .map_err(|untrusted| io::Error::new(io::ErrorKind::PermissionDenied, untrusted.fix()))?;
    let path = dir.join(KEY_FILE);
    match read_key(&path, &boot) {
        Ok(Some(key)) => return Ok(key),
        Ok(None) => std::fs::remove_file(&path)?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let fresh = PointerKey::from_bytes(random_bytes()?);
    let temporary = dir.join(format!("{KEY_FILE}.{}", std::process::id()));
    let written =
        write_key(&temporary, &boot, &fresh).and_then(|()| std::fs::hard_link(&temporary, &path));
    let _ = std::fs::remove_file(&temporary);
    match written {
        Ok(()) => Ok(fresh),
        // Another run linked its key first: that one is the boot's.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => read_key(&path, &boot)?
            .ok_or_else(|| io::Error::other("another run wrote a key for a different boot")),
        Err(err) => Err(err),
    }
}

/// The key in `path` when it was made for `boot`; None when it was made for another boot.
fn read_key(path: &Path, boot: &str) -> io::Result<Option<PointerKey>> {
    // Never through a link; a FIFO planted here does not block the open.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.uid() != sys::effective_uid() || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "owned by uid {} with mode {:o}: the key file must be the running user's \
                 own, mode 0600",
                meta.uid(),
                meta.mode() & 0o7777
            ),
        ));
    }
    let mut text = String::new();
    file.take(256).read_to_string(&mut text)?;
    parse(&text, boot)
}

/// `BOOT_ID HEX32`: the key when the boot id is `boot`, None for another boot.
fn parse(text: &str, boot: &str) -> io::Result<Option<PointerKey>> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed key file");
    let (made_for, hex) = text.trim().split_once(' ').ok_or_else(malformed)?;
    if made_for != boot {
        return Ok(None);
    }
    if hex.len() != 32 {
        return Err(malformed());
    }
    let mut bytes = [0u8; 16];
    for (at, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[at * 2..at * 2 + 2], 16).map_err(|_| malformed())?;
    }
    Ok(Some(PointerKey::from_bytes(bytes)))
}

fn write_key(path: &Path, boot: &str, key: &PointerKey) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    file.write_all(format!("{boot} {hex}\n").as_bytes())?;
    file.sync_all()
}

fn random_bytes() -> io::Result<[u8; 16]> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_read_back_only_for_its_boot() {
        let key = PointerKey::from_bytes(*b"0123456789abcdef");
        let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("boot-a {hex}\n");
        assert_eq!(parse(&text, "boot-a").expect("parses"), Some(key));
        assert_eq!(parse(&text, "boot-b").expect("parses"), None);
        assert!(parse("boot-a 12", "boot-a").is_err());
        assert!(parse("nonsense", "boot-a").is_err());
    }

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bpfq-key-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = scratch("once");
        let (first, note) = boot_pointer_key(&dir);
        assert_eq!(note, None);
        let (second, note) = boot_pointer_key(&dir);
        assert_eq!((second, note), (first, None));
        let meta = std::fs::metadata(dir.join(KEY_FILE)).expect("key file");
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(meta.uid(), sys::effective_uid());
        // A file others may read is never used: a per-run key, and why.
        std::fs::set_permissions(
            dir.join(KEY_FILE),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .expect("chmod");
        let (per_run, note) = boot_pointer_key(&dir);
        assert_ne!(per_run, first);
        assert!(note.expect("a note").contains("mode 0600"));
        // A link in its place is not followed.
        std::fs::remove_file(dir.join(KEY_FILE)).expect("rm");
        std::os::unix::fs::symlink("/etc/hostname", dir.join(KEY_FILE)).expect("symlink");
        assert!(boot_pointer_key(&dir).1.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
