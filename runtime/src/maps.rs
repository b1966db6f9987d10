//! Stage `load` (before bind): finds the BPF map a map-element query names — by name, id or
//! pinned path — on the running kernel, for the compiler (`MapLookup`, the map's shape) and for
//! the link (`open_map`, an fd held until the link is created). Guarantees: the fd returned is
//! a map's (a pinned program is refused), and every fd opened while searching is closed.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use bpfq_compiler::maps::{MapLookup, MapLookupError, MapRef, MapShape};

use crate::sys::{self, MapInfo};

/// Where the kernel lists the CPUs that may ever come online ("0-3", "0,2-5").
const POSSIBLE_CPUS: &str = "/sys/devices/system/cpu/possible";

/// Looks maps up on the running kernel.
pub struct LiveMaps;

impl MapLookup for LiveMaps {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError> {
        let (_fd, info) = open_map(map)?;
        Ok(MapShape {
            map_type: info.map_type,
            key_size: info.key_size,
            value_size: info.value_size,
            name: info.name,
            id: info.id,
            possible_cpus: possible_cpus()
                .map_err(|e| MapLookupError::Failed(format!("cannot read {POSSIBLE_CPUS}: {e}")))?,
        })
    }
}

/// The number of possible CPUs: a per-CPU map's iterator value holds one value for each.
pub fn possible_cpus() -> io::Result<u32> {
    let text = std::fs::read_to_string(POSSIBLE_CPUS)?;
    count_cpu_list(text.trim())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad list {text:?}")))
}

/// The number of CPUs in a kernel CPU list such as "0-3,6".
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut count = 0u32;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let cpu = part.parse::<u32>().ok()?;
                (cpu, cpu)
            }
        };
        count += last.checked_sub(first)? + 1;
    }
    (count > 0).then_some(count)
}

fn failed(what: &str, err: io::Error) -> MapLookupError {
    match crate::caps::missing_after_eperm(&err, crate::caps::Needs::SysAdmin) {
        Some(missing) => MapLookupError::Failed(format!(
            "{what}: not allowed: this process lacks {missing}, which opening another program's map needs; run as root or grant it"
        )),
        None => MapLookupError::Failed(format!("{what}: {err}")),
    }
}

/// Whether `fd` is a BPF map (its anonymous inode is `bpf-map`), so its info is a map's.
fn is_map_fd(fd: &OwnedFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|target| target.as_os_str() == "anon_inode:bpf-map")
}

/// Opens the map `map` names, with its info.
pub fn open_map(map: &MapRef) -> Result<(OwnedFd, MapInfo), MapLookupError> {
    match map {
        MapRef::Id(id) => {
            let fd = sys::map_fd_by_id(*id).map_err(|err| {
                if err.raw_os_error() == Some(libc::ENOENT) {
                    MapLookupError::NotFound {
                        near: map_names_or_empty(),
                    }
                } else {
                    failed("BPF_MAP_GET_FD_BY_ID", err)
                }
            })?;
            let info = sys::map_info(fd.as_fd()).map_err(|e| failed("map info", e))?;
            Ok((fd, info))
        }
        MapRef::Pinned(path) => {
            let fd = sys::obj_get(Path::new(path)).map_err(|e| failed(path, e))?;
            if !is_map_fd(&fd) {
                return Err(MapLookupError::Failed(format!(
                    "{path} is a pinned BPF object that is not a map"
                )));
            }
            let info = sys::map_info(fd.as_fd()).map_err(|e| failed("map info", e))?;
            Ok((fd, info))
        }
        MapRef::Name(name) => open_by_name(name),
    }
}

/// Every map of the system, opened one at a time (maps that vanish meanwhile are skipped).
fn each_map(mut visit: impl FnMut(OwnedFd, MapInfo)) -> io::Result<()> {
    for id in sys::map_ids()? {
        let Ok(fd) = sys::map_fd_by_id(id) else {
            continue;
        };
        if let Ok(info) = sys::map_info(fd.as_fd()) {
            visit(fd, info);
        }
    }
    Ok(())
}

fn map_names_or_empty() -> Vec<String> {
    let mut names = Vec::new();
    let _ = each_map(|_, info| names.push(info.name));
    names
}

/// The one map named `name`; several of the same name are an error that lists their ids.
fn open_by_name(name: &str) -> Result<(OwnedFd, MapInfo), MapLookupError> {
    let mut found: Vec<(OwnedFd, MapInfo)> = Vec::new();
    let mut names = Vec::new();
    each_map(|fd, info| {
        if info.name == name {
            found.push((fd, info));
        } else {
            names.push(info.name);
        }
    })
    .map_err(|e| failed("BPF_MAP_GET_NEXT_ID", e))?;
    match found.len() {
        0 => Err(MapLookupError::NotFound { near: names }),
        1 => Ok(found.remove(0)),
        _ => {
            let ids: Vec<String> = found.iter().map(|(_, i)| i.id.to_string()).collect();
            Err(MapLookupError::Failed(format!(
                "{} maps are named {name:?} (ids {}): use map = ID",
                found.len(),
                ids.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_cpu_list;

    #[test]
    fn cpu_lists_count_every_cpu() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
    }
}
