//! Test support: socket maps filled by tests/helpers/socket_maps.py (a sockmap or sk_storage
//! map pinned in bpffs, holding loopback TCP sockets the helper keeps open; an sk_storage map
//! also holds one connected UDP socket, one unix and one netlink socket). Dropping the
//! value closes the helper's stdin: it unpins the map and exits, and the test waits for it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// One socket the helper put in the map: its key or value, ports and inode.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldSocket {
    pub first: u64,
    pub sport: u16,
    pub dport: u16,
    pub inode: u64,
    /// 6 (TCP), 17 (UDP) or 0 (unix, netlink): an sk_storage map also holds one connected UDP
    /// socket, one unix and one netlink socket.
    pub protocol: u8,
    /// 2 (AF_INET), 1 (AF_UNIX) or 16 (AF_NETLINK; unix and netlink ports are 0).
    pub family: u16,
}

pub struct SocketMap {
    child: Child,
    pub path: String,
    pub sockets: Vec<HeldSocket>,
}

impl SocketMap {
    /// `kind` is "sockmap" or "sk_storage"; the map is pinned at `path` with `count` sockets.
    pub fn create(kind: &str, path: &str, count: usize) -> SocketMap {
        Self::spawn(Command::new("python3"), kind, path, count)
    }

    /// `create`, with the sockets in a new network namespace (`unshare -n`, loopback up) that
    /// the helper holds until it exits.
    #[allow(dead_code)]
    pub fn create_in_new_netns(kind: &str, path: &str, count: usize) -> SocketMap {
        let mut command = Command::new("unshare");
        command.args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec python3 \"$@\"",
            "sh",
        ]);
        Self::spawn(command, kind, path, count)
    }

    fn spawn(mut command: Command, kind: &str, path: &str, count: usize) -> SocketMap {
        let script = format!(
            "{}/tests/helpers/socket_maps.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut child = command
            .args([script.as_str(), kind, path, &count.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut sockets = Vec::new();
        loop {
            let line = lines
                .next()
                .expect("helper prints `ready`")
                .expect("helper output");
            if line == "ready" {
                break;
            }
            let fields: Vec<u64> = line
                .split_whitespace()
                .map(|f| f.parse().unwrap())
                .collect();
            sockets.push(HeldSocket {
                first: fields[0],
                sport: fields[1] as u16,
                dport: fields[2] as u16,
                inode: fields[3],
                protocol: fields[4] as u8,
                family: fields[5] as u16,
            });
        }
        SocketMap {
            child,
            path: path.to_string(),
            sockets,
        }
    }
}

impl Drop for SocketMap {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}
