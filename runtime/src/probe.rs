//! What the running kernel allows, found by asking it: the boot's identity,
//! whether the verifier accepts a compiled program (loaded with stand-in maps of the sizes it
//! names, then dropped), and the facts of `KernelFeatures` that BTF cannot tell, each settled by
//! loading one query's program (`TRIALS`), cached per boot under /run. Every fd made here is
//! closed before a call returns.

use crate::loader::{load_iter_program, IterProgramSpec, LoadError};
use crate::sys;
use bpfq_compiler::group_place::GroupPlace;
use bpfq_compiler::ir::MapRef;
use bpfq_compiler::pipeline::Compiled;
use bpfq_kernel::features::{KernelFeatures, Why};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// This boot's random identity (changes at every boot; keys the probe's cache).
pub fn boot_id() -> io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_string())
}

/// Loads `compiled`'s program with stand-in maps of the sizes it names and drops it: Ok when the
/// verifier accepts it, else the kernel's refusal (with the verifier's log).
pub fn verifier_accepts(compiled: &Compiled) -> Result<(), LoadError> {
    let maps = StandInMaps::for_program(compiled).map_err(|err| LoadError::Sys {
        what: "creating a stand-in map",
        err,
    })?;
    let insns = compiled.program.to_bytes_with_maps(|map| maps.fd_of(map));
    let spec = IterProgramSpec {
        name: &compiled.prog_name,
        insns: &insns,
        license: "GPL",
        attach_btf_id: compiled.plan.target.attach_func.0,
    };
    load_iter_program(&spec, false).map(drop)
}

/// Loads each socket program of `compiled` (a `bpf_sk_storage_map` or `sockmap` query read
/// through socket iterators) with a stand-in of the map it reads (an sk_storage map of the
/// query's value size, or a cookie -> key hash map of its key size), and a ring where the program
/// writes to one, and drops it: Ok when the verifier accepts every one.
pub fn socket_programs_accepted(compiled: &Compiled) -> Result<(), LoadError> {
    let stand_in = |err| LoadError::Sys {
        what: "creating a stand-in map",
        err,
    };
    let (key_size, value_size) = match &compiled.plan.iter_params {
        Some(bpfq_compiler::bind::IterParams::Map(map)) => {
            (map.shape.key_size, map.shape.value_size)
        }
        _ => (4, 8),
    };
    let uses = |wanted: MapRef| {
        compiled
            .socket_programs
            .iter()
            .any(|p| p.program.relocations.iter().any(|r| r.map == wanted))
    };
    let storage = match uses(MapRef::SkStorage) {
        true => Some(sys::sk_storage_create("bpfq_probe", value_size).map_err(stand_in)?),
        false => None,
    };
    let keys = match uses(MapRef::SocketKeys) {
        true => Some(sys::HashMapFd::create("bpfq_probe", 8, key_size, 1).map_err(stand_in)?),
        false => None,
    };
    for socket in &compiled.socket_programs {
        let uses_ring = socket
            .program
            .relocations
            .iter()
            .any(|r| r.map == MapRef::RowRing);
        let ring = match uses_ring {
            true => {
                Some(sys::ringbuf_create("bpfq_probe", sys::page_size() as u32).map_err(stand_in)?)
            }
            false => None,
        };
        let insns = socket.program.to_bytes_with_maps(|map| match map {
            MapRef::SkStorage => storage.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            MapRef::SocketKeys => keys.as_ref().map_or(-1, |map| map.as_fd().as_raw_fd()),
            MapRef::RowRing => ring.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            MapRef::Groups | MapRef::Formats => -1,
        });
        let spec = IterProgramSpec {
            name: &socket.prog_name,
            insns: &insns,
            license: "GPL",
            attach_btf_id: socket.target.attach_func.0,
        };
        load_iter_program(&spec, false).map(drop)?;
    }
    Ok(())
}

/// One small map for each map the program refers to, shaped as the real run would create it.
struct StandInMaps {
    ring: Option<OwnedFd>,
    groups: Option<sys::HashMapFd>,
    formats: Option<OwnedFd>,
}

impl StandInMaps {
    fn for_program(compiled: &Compiled) -> io::Result<StandInMaps> {
        let uses = |wanted: MapRef| compiled.program.relocations.iter().any(|r| r.map == wanted);
        let ring = match uses(MapRef::RowRing) {
            true => Some(sys::ringbuf_create("bpfq_probe", sys::page_size() as u32)?),
            false => None,
        };
        let groups = match (&compiled.plan.group_place, uses(MapRef::Groups)) {
            (Some(GroupPlace::Kernel(kernel)), true) => Some(sys::HashMapFd::create(
                "bpfq_probe",
                kernel.key_size,
                kernel.value_size,
                1,
            )?),
            _ => None,
        };
        let formats = match uses(MapRef::Formats) {
            true => Some(sys::frozen_array_create(
                "bpfq_probe",
                &compiled.program.formats,
            )?),
            false => None,
        };
        Ok(StandInMaps {
            ring,
            groups,
            formats,
        })
    }

    fn fd_of(&self, map: MapRef) -> i32 {
        let fd = match map {
            MapRef::RowRing => self.ring.as_ref().map(|fd| fd.as_raw_fd()),
            MapRef::Groups => self.groups.as_ref().map(|map| map.as_fd().as_raw_fd()),
            MapRef::Formats => self.formats.as_ref().map(|fd| fd.as_raw_fd()),
            // Only socket iterator programs read these (`socket_programs_accepted`).
            MapRef::SkStorage | MapRef::SocketKeys => None,
        };
        fd.unwrap_or(-1)
    }
}

/// One fact a run settles, by name, and the query whose program needs it.
pub struct Trial {
    /// The fact's name in `KernelFeatures::facts`.
    pub fact: &'static str,
    /// A query whose program uses the fact (compiled with the fact assumed true).
    pub query: &'static str,
    /// The stand-in map shape of a map-element query (`--map-shape`).
    pub map_shape: Option<&'static str>,
    /// What was tried, for `Why::Probed`.
    pub tried: &'static str,
    /// Other facts assumed true for the trial's program, so that it uses the fact tried (the
    /// vm_file trial needs `bpf_d_path`, not the dentry walk that replaces it).
    also: &'static [&'static str],
}

/// The facts only a run can tell, each with the query that shows it.
pub const TRIALS: [Trial; 4] = [
    Trial {
        fact: "cpu_v4",
        query: "from task select pid",
        map_shape: None,
        tried: "a sign-extending load (BPF_MEMSX) in a task program",
        also: &[],
    },
    Trial {
        fact: "d_path_in_iter",
        query: "from task_file select path",
        map_shape: None,
        tried: "bpf_d_path in a task_file program",
        also: &[],
    },
    Trial {
        fact: "vma_file_path_trusted",
        query: "from task_vma select path",
        map_shape: None,
        tried: "bpf_d_path of vma->vm_file->f_path in a task_vma program",
        also: &["d_path_in_iter"],
    },
    Trial {
        fact: "map_elem_programs",
        query: "from bpf_map_elem(map = \"bpfq_probe\") select key",
        map_shape: Some("hash:4:8"),
        tried: "loading a bpf_map_elem program",
        also: &[],
    },
];

/// What one trial showed.
pub enum Outcome {
    /// The kernel loaded the program.
    Accepted,
    /// The kernel refused it, with this error.
    Refused(LoadError),
    /// The trial says nothing: the query does not compile here (the target is missing), or this
    /// process lacks the capabilities to load anything.
    Inconclusive,
}

/// `features` (derived from BTF) with each fact of `TRIALS` settled by running its query through
/// `attempt` (compile with the given features, then `verifier_accepts`). Results are cached in
/// `cache_dir` under the boot id and the BTF's identity, so a boot pays for the loads once;
/// inconclusive trials are neither applied nor cached.
pub fn settle(
    mut features: KernelFeatures,
    btf_identity: &str,
    cache_dir: &std::path::Path,
    attempt: &mut dyn FnMut(&Trial, &KernelFeatures) -> Outcome,
) -> KernelFeatures {
    let cache = boot_id()
        .ok()
        .map(|boot| cache_dir.join(format!("features-{boot}-{btf_identity}")));
    let cached = cache
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let mut settled = String::new();
    for trial in &TRIALS {
        let known = cached.lines().find_map(|line| {
            let (fact, holds) = line.split_once('=')?;
            (fact == trial.fact).then_some(holds == "1")
        });
        let holds = match known {
            Some(holds) => Some(holds),
            None => {
                let mut assumed = features.clone();
                assumed.set(trial.fact, true, Why::Probed(trial.tried));
                for fact in trial.also {
                    assumed.set(fact, true, Why::Probed(trial.tried));
                }
                match attempt(trial, &assumed) {
                    Outcome::Accepted => Some(true),
                    Outcome::Refused(_) => Some(false),
                    Outcome::Inconclusive => None,
                }
            }
        };
        if let Some(holds) = holds {
            features.set(trial.fact, holds, Why::Probed(trial.tried));
            settled += &format!("{}={}\n", trial.fact, u8::from(holds));
        }
    }
    if let Some(path) = cache.filter(|_| settled != cached) {
        // A cache that cannot be written costs the loads again next time, nothing more.
        let _ = std::fs::create_dir_all(cache_dir)
            .and_then(|()| std::fs::write(&path, settled.as_bytes()));
    }
    features
}

/// A short identity of a BTF blob: its length and a hash of its first and last 4 KiB (the header
/// and first types, the end of the strings). The cache is per boot already, and a boot's vmlinux
/// BTF never changes, so this only tells kernels apart; it costs every query two pages, not the
/// whole file (a sampled hash of vmlinux touched ~85 pages).
pub fn btf_identity(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |block: &[u8]| {
        for &byte in block {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    mix(&bytes[..bytes.len().min(4096)]);
    mix(&bytes[bytes.len().saturating_sub(4096)..]);
    format!("{}-{hash:016x}", bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features_of_6_1() -> KernelFeatures {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/btf/linux-6.1.btf.xz"
        );
        let btf = bpfq_kernel::Btf::from_file(std::path::Path::new(path)).expect("fixture");
        KernelFeatures::from_btf(&btf).expect("features")
    }

    fn scratch_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bpfq-probe-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_vm_file_trial_uses_bpf_d_path_even_where_d_path_in_iter_was_refused() {
        let dir = scratch_dir("dpath");
        let mut seen = None;
        let settled = settle(features_of_6_1(), "btf", &dir, &mut |trial, assumed| {
            match trial.fact {
                "d_path_in_iter" => Outcome::Refused(LoadError::InvalidProgram {
                    reason: "stand-in refusal".into(),
                }),
                "vma_file_path_trusted" => {
                    // Compiled with the walk, the trial would load and say nothing of vm_file.
                    seen = Some(assumed.d_path_in_iter);
                    Outcome::Accepted
                }
                _ => Outcome::Accepted,
            }
        });
        assert_eq!(
            seen,
            Some(true),
            "the vm_file trial is compiled with bpf_d_path"
        );
        assert!(!settled.d_path_in_iter && settled.vma_file_path_trusted);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trials_set_their_facts_and_a_second_settle_reads_the_cache() {
        let dir = scratch_dir("cache");
        let base = features_of_6_1();
        let mut tried = Vec::new();
        let settled = settle(base.clone(), "btf", &dir, &mut |trial, assumed| {
            tried.push(trial.fact);
            // Each trial is compiled with its own fact assumed true.
            let fact = assumed.facts().into_iter().find(|f| f.name == trial.fact);
            assert!(fact.is_some_and(|f| f.holds), "{}", trial.fact);

            match trial.fact {
                "map_elem_programs" => Outcome::Refused(LoadError::InvalidProgram {
                    reason: "stand-in refusal".into(),
                }),
                "vma_file_path_trusted" => Outcome::Inconclusive,
                _ => Outcome::Accepted,
            }
        });
        assert_eq!(tried, TRIALS.map(|t| t.fact));
        assert!(settled.cpu_v4 && settled.d_path_in_iter);
        assert!(!settled.map_elem_programs);
        assert!(matches!(settled.why.map_elem_programs, Why::Probed(_)));
        // Inconclusive: the BTF-derived value and reason stay.
        assert_eq!(settled.vma_file_path_trusted, base.vma_file_path_trusted);
        assert_eq!(
            settled.why.vma_file_path_trusted,
            base.why.vma_file_path_trusted
        );

        let mut again = Vec::new();
        let cached = settle(base, "btf", &dir, &mut |trial, _| {
            again.push(trial.fact);
            Outcome::Accepted
        });
        // Only the inconclusive fact is tried again; the others come from the cache.
        assert_eq!(again, ["vma_file_path_trusted"]);
        assert!(!cached.map_elem_programs && cached.cpu_v4);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_btf_is_probed_afresh() {
        let dir = scratch_dir("identity");
        let base = features_of_6_1();
        settle(base.clone(), "first", &dir, &mut |_, _| Outcome::Accepted);
        let mut tried = 0;
        settle(base, "second", &dir, &mut |_, _| {
            tried += 1;
            Outcome::Accepted
        });
        assert_eq!(tried, TRIALS.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn btf_identity_tells_blobs_apart() {
        let a = vec![7u8; 100_000];
        let mut b = a.clone();
        b[99_999] = 8;
        assert_ne!(btf_identity(&a), btf_identity(&b));
        assert_eq!(btf_identity(&a), btf_identity(&a.clone()));
        assert!(btf_identity(&a).starts_with("100000-"));
    }
}
