//! Stage `load` (for `netns = all`): the network namespaces of the machine, each once. Guarantees
//! every namespace reachable through a process (/proc/PID/ns/net) or a bind mount of
//! `ip netns add` (/run/netns/NAME) is listed exactly once, by its nsfs inode number, with an
//! open file that keeps it alive until the iterator has been created inside it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// An open network namespace file and the namespace's inode number (its `netns` column value).
#[derive(Debug)]
pub struct NetNamespace {
    pub inode: u64,
    pub file: File,
}

/// Every network namespace of the machine, in inode order. Processes that exit while the list
/// is built are skipped; a namespace held only by a thread that entered it with setns (not by
/// any process's main thread nor a /run/netns mount) is not seen, as with `ip netns identify`.
pub fn all_network_namespaces() -> io::Result<Vec<NetNamespace>> {
    let mut found: BTreeMap<u64, NetNamespace> = BTreeMap::new();
    let mut candidates = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        if name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            candidates.push(Path::new("/proc").join(name).join("ns/net"));
        }
    }
    match std::fs::read_dir("/run/netns") {
        Ok(entries) => {
            for entry in entries {
                candidates.push(entry?.path());
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    // Every namespace file lives on the one nsfs superblock: its device number tells a mounted
    // namespace from a plain file left under /run/netns by a failed `ip netns add`.
    let nsfs_dev = std::fs::metadata("/proc/self/ns/net")?.dev();
    for path in candidates {
        // A process may exit (ENOENT, ESRCH) or a /run/netns entry may not be mounted
        // (an empty file left by a failed `ip netns add`): skip what cannot be a namespace.
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        if meta.dev() != nsfs_dev {
            continue;
        }
        found.entry(meta.ino()).or_insert(NetNamespace {
            inode: meta.ino(),
            file,
        });
    }
    Ok(found.into_values().collect())
}
