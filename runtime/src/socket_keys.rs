//! Stage `load`, for a `sockmap` query read through socket iterators (the kernel refuses
//! map-element programs): the cookie -> key hash map the socket programs look each socket up in
//! (`ir::MapRef::SocketKeys`), filled from the sockmap with BPF_MAP_GET_NEXT_KEY and
//! BPF_MAP_LOOKUP_ELEM, which answers a slot's socket cookie for a map of 8-byte values.
//! Guarantees: after `fill`, the map holds exactly the (cookie, key) pairs of the sockmap's
//! sockets at that moment (earlier ones removed), so a socket program finds a socket exactly
//! when it is in the sockmap; the map has room for every slot of the sockmap; its fd is closed
//! when the value is dropped.

use std::io;
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;

use crate::sys::{HashMapFd, MapElements};

/// The name of the cookie -> key map (in `bpftool map`, `explain`).
pub const MAP_NAME: &str = "bpfq_sock_keys";

/// A socket cookie: the map's key.
const COOKIE_SIZE: usize = 8;

/// The cookie -> key map of one sockmap.
pub struct SocketKeys {
    map: HashMapFd,
    key_len: usize,
}

/// What one `fill` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    /// Sockets (slots holding one) in the sockmap.
    pub sockets: usize,
    /// Slots holding a socket that an earlier slot holds too: the socket programs see each
    /// socket once, so such a socket is listed at one of its keys only.
    pub repeated: usize,
}

impl SocketKeys {
    /// An empty map for the sockets of `sockmap` (its keys become the values).
    pub fn create(sockmap: &MapElements) -> io::Result<SocketKeys> {
        let info = sockmap.info();
        let map = HashMapFd::create(
            MAP_NAME,
            COOKIE_SIZE as u32,
            info.key_size,
            info.max_entries.max(1),
        )?;
        Ok(SocketKeys {
            map,
            key_len: info.key_size as usize,
        })
    }

    /// The map's fd, to patch into the socket programs.
    pub fn fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.map)
    }

    /// Empties the map, then puts in the cookie and key of every socket `sockmap` holds now.
    pub fn fill(&self, sockmap: &MapElements) -> io::Result<Filled> {
        self.clear()?;
        let mut filled = Filled {
            sockets: 0,
            repeated: 0,
        };
        let mut seen = vec![0u8; self.key_len];
        sockmap.each(|key, cookie| {
            filled.sockets += 1;
            if self.map.lookup(cookie, &mut seen)? {
                filled.repeated += 1;
            } else {
                self.map.update(cookie, key)?;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(filled)
    }

    /// Removes every element (the walk restarts from the first key after each delete).
    fn clear(&self) -> io::Result<()> {
        let mut cookie = [0u8; COOKIE_SIZE];
        while self.map.next_key(None, &mut cookie)? {
            self.map.delete(&cookie)?;
        }
        Ok(())
    }
}
