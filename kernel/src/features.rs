//! Kernel features record: what the kernel a BTF describes lets an iterator program do, each fact with why it was decided. Guarantees: one walk over the type records, stopped at the last of the two enums that hold every marker; a marker that is not found gives the older variant (accepted by every kernel bpfq supports), never a newer one the kernel could refuse.

use std::fmt;

use crate::btf::{Btf, BtfError, Kind};

/// Why a fact of `KernelFeatures` holds or not, for `explain` and diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The BTF has `marker`, which Linux `since` introduced.
    Found {
        marker: &'static str,
        since: &'static str,
    },
    /// The BTF lacks `marker` (introduced by Linux `since`): the kernel is taken to be older.
    Missing {
        marker: &'static str,
        since: &'static str,
    },
    /// BTF cannot tell; assumed until a run on the kernel says otherwise.
    Assumed(&'static str),
    /// Decided by trying it on the running kernel: what was tried.
    Probed(&'static str),
    /// Set by hand (a test, an option): by whom.
    Given(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Found { marker, since } => write!(f, "BTF has {marker} (Linux {since})"),
            Why::Missing { marker, since } => {
                write!(f, "no Linux {since} marker in BTF ({marker})")
            }
            Why::Assumed(what) => write!(f, "assumed: {what}"),
            Why::Probed(what) => write!(f, "probed: {what}"),
            Why::Given(by) => write!(f, "given: {by}"),
        }
    }
}

/// What a kernel lets an iterator program do. A plain record: a later runtime probe may
/// overwrite any fact (and its reason in `why`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelFeatures {
    /// cpu v4 instructions: sign-extending loads (BPF_MEMSX), sdiv/smod, movsx, unconditional
    /// bswap, gotol (Linux 6.6+).
    pub cpu_v4: bool,
    /// The `bpf_rdonly_cast` kfunc, for pointer casts (Linux 6.2+; decided by a 6.2 marker, the
    /// FUNC itself is looked up where a cast needs its id).
    pub rdonly_cast: bool,
    /// `bpf_d_path` allowed in iterator programs (Linux 5.12+; the helper itself is 5.10+).
    pub d_path_in_iter: bool,
    /// Task iterators take a process or thread in their link info (Linux 6.1+); before, such a
    /// link is refused (E2BIG) and the program filters instead.
    pub task_iter_params: bool,
    /// The `bpf_ringbuf_output` helper (Linux 5.8+).
    pub ringbuf: bool,
    /// The `bpf_probe_read_kernel` helper (Linux 5.5+).
    pub probe_read_kernel: bool,
    /// Maps are charged to RLIMIT_MEMLOCK (before Linux 5.11, which charges them to the memory
    /// cgroup instead).
    pub memlock_charged: bool,
    /// Programs on the `bpf_map_elem` family of iterators load (only a run can tell).
    pub map_elem_programs: bool,
    /// `vma->vm_file->f_path` is a trusted pointer that `bpf_d_path` takes (only a run can tell).
    pub vma_file_path_trusted: bool,
    /// Why each fact was decided, field by field.
    pub why: FeatureReasons,
}

/// The reason of each fact of `KernelFeatures`, under the same names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureReasons {
    pub cpu_v4: Why,
    pub rdonly_cast: Why,
    pub d_path_in_iter: Why,
    pub task_iter_params: Why,
    pub ringbuf: Why,
    pub probe_read_kernel: Why,
    pub memlock_charged: Why,
    pub map_elem_programs: Why,
    pub vma_file_path_trusted: Why,
}

/// One fact, for listings (`explain`, `doctor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fact {
    pub name: &'static str,
    pub holds: bool,
    pub why: Why,
}

/// A release marker: an enumerator of an enum in the BTF, or a FUNC.
#[derive(Clone, Copy)]
struct Marker {
    name: &'static str,
    since: &'static str,
}

impl Marker {
    fn why(self, present: bool) -> Why {
        let (marker, since) = (self.name, self.since);
        if present {
            Why::Found { marker, since }
        } else {
            Why::Missing { marker, since }
        }
    }
}

const FUNC_ID_ENUM: &str = "bpf_func_id";
const LINK_TYPE_ENUM: &str = "bpf_link_type";

/// The enumerators of `enum bpf_func_id` the walk looks for; the constants below index them.
const HELPER_MARKERS: [Marker; 7] = [
    Marker {
        name: "BPF_FUNC_probe_read_kernel",
        since: "5.5",
    },
    Marker {
        name: "BPF_FUNC_ringbuf_output",
        since: "5.8",
    },
    Marker {
        name: "BPF_FUNC_d_path",
        since: "5.10",
    },
    // Task storage came in 5.11, the release that moved map memory from RLIMIT_MEMLOCK to
    // the memory cgroup.
    Marker {
        name: "BPF_FUNC_task_storage_get",
        since: "5.11",
    },
    // Merged into bpf-next with "bpf: Allow bpf_d_path in bpf_iter program" (3d06f34aa896,
    // with the task_vma iterator), after 5.11's merge window.
    Marker {
        name: "BPF_FUNC_for_each_map_elem",
        since: "5.12",
    },
    // Merged for 6.1 with "bpf: Parameterize task iterators" (the `task` member of union
    // bpf_iter_link_info: one process or thread per iterator).
    Marker {
        name: "BPF_FUNC_user_ringbuf_drain",
        since: "6.1",
    },
    // Merged for 6.2 with the `bpf_rdonly_cast` kfunc, which is built whenever BPF is
    // (kernel/bpf/helpers.c). The kfunc's own FUNC sits past the middle of vmlinux's types;
    // this enumerator sits among the first 2%, so the walk stops there. The binder looks the
    // FUNC up anyway when a query casts (it needs its id) and reads with probes if it is absent.
    Marker {
        name: "BPF_FUNC_cgrp_storage_get",
        since: "6.2",
    },
];
const PROBE_READ_KERNEL: usize = 0;
const RINGBUF_OUTPUT: usize = 1;
const D_PATH: usize = 2;
const LINUX_5_11: usize = 3;
const LINUX_5_12: usize = 4;
const LINUX_6_1: usize = 5;
const LINUX_6_2: usize = 6;

/// tcx links came with the cpu v4 instructions, both merged for 6.6 (no cpu v4 instruction
/// leaves a trace in BTF itself).
const CPU_V4_MARKER: Marker = Marker {
    name: "BPF_LINK_TYPE_TCX",
    since: "6.6",
};

/// What the walk has seen so far.
#[derive(Default)]
struct Seen {
    /// The `bpf_func_id` enumerators of `HELPER_MARKERS`, once that enum was met.
    helpers: Option<[bool; HELPER_MARKERS.len()]>,
    /// Whether `bpf_link_type` has the cpu v4 marker, once that enum was met.
    cpu_v4: Option<bool>,
}

impl Seen {
    /// Every fact is decided: both enums were met.
    fn settled(&self) -> bool {
        self.helpers.is_some() && self.cpu_v4.is_some()
    }
}

impl KernelFeatures {
    /// Derives the features from the kernel's BTF in one walk over its type records, which
    /// stops at the two enums it reads (among the first 2% of vmlinux's types on 6.x, a quarter
    /// on 5.10): helpers from the members of `enum bpf_func_id`, version-dependent facts (the
    /// kfunc included) from enumerators of the release that brought them.
    pub fn from_btf(btf: &Btf) -> Result<KernelFeatures, BtfError> {
        let mut seen = Seen::default();
        btf.scan(|record| {
            if matches!(record.kind, Kind::Enum | Kind::Enum64) {
                if seen.helpers.is_none() && record.name_is(FUNC_ID_ENUM) {
                    seen.helpers = Some(HELPER_MARKERS.map(|m| record.has_enumerator(m.name)));
                } else if seen.cpu_v4.is_none() && record.name_is(LINK_TYPE_ENUM) {
                    seen.cpu_v4 = Some(record.has_enumerator(CPU_V4_MARKER.name));
                }
            }
            !seen.settled()
        });
        if !seen.settled() {
            // The walk reached the end, or a malformed record: only the first is an answer.
            if let Some(error) = btf.index_error() {
                return Err(error);
            }
        }
        let helpers = seen.helpers.unwrap_or_default();
        let helper = |n: usize| (helpers[n], HELPER_MARKERS[n].why(helpers[n]));
        let (probe_read_kernel, probe_read_kernel_why) = helper(PROBE_READ_KERNEL);
        let (ringbuf, ringbuf_why) = helper(RINGBUF_OUTPUT);
        let (d_path_in_iter, d_path_in_iter_why) = match helper(D_PATH) {
            (true, _) => helper(LINUX_5_12),
            missing => missing,
        };
        let (memlock_uncharged, memlock_why) = helper(LINUX_5_11);
        let cpu_v4 = seen.cpu_v4.unwrap_or(false);
        let (rdonly_cast, rdonly_cast_why) = helper(LINUX_6_2);
        let (task_iter_params, task_iter_params_why) = helper(LINUX_6_1);
        let assumed = Why::Assumed("only loading a program on the kernel tells");
        Ok(KernelFeatures {
            cpu_v4,
            rdonly_cast,
            d_path_in_iter,
            task_iter_params,
            ringbuf,
            probe_read_kernel,
            memlock_charged: !memlock_uncharged,
            map_elem_programs: true,
            vma_file_path_trusted: true,
            why: FeatureReasons {
                cpu_v4: CPU_V4_MARKER.why(cpu_v4),
                rdonly_cast: rdonly_cast_why,
                d_path_in_iter: d_path_in_iter_why,
                task_iter_params: task_iter_params_why,
                ringbuf: ringbuf_why,
                probe_read_kernel: probe_read_kernel_why,
                memlock_charged: memlock_why,
                map_elem_programs: assumed,
                vma_file_path_trusted: assumed,
            },
        })
    }

    /// Sets the fact named `name` (a field's name, as `facts` lists them) and its reason; false
    /// when no fact has that name.
    pub fn set(&mut self, name: &str, holds: bool, reason: Why) -> bool {
        let (fact, why) = match name {
            "cpu_v4" => (&mut self.cpu_v4, &mut self.why.cpu_v4),
            "rdonly_cast" => (&mut self.rdonly_cast, &mut self.why.rdonly_cast),
            "d_path_in_iter" => (&mut self.d_path_in_iter, &mut self.why.d_path_in_iter),
            "task_iter_params" => (&mut self.task_iter_params, &mut self.why.task_iter_params),
            "ringbuf" => (&mut self.ringbuf, &mut self.why.ringbuf),
            "probe_read_kernel" => (&mut self.probe_read_kernel, &mut self.why.probe_read_kernel),
            "memlock_charged" => (&mut self.memlock_charged, &mut self.why.memlock_charged),
            "map_elem_programs" => (&mut self.map_elem_programs, &mut self.why.map_elem_programs),
            "vma_file_path_trusted" => (
                &mut self.vma_file_path_trusted,
                &mut self.why.vma_file_path_trusted,
            ),
            _ => return false,
        };
        *fact = holds;
        *why = reason;
        true
    }

    /// Every fact with its name (the field's) and reason, in declaration order.
    pub fn facts(&self) -> [Fact; 9] {
        let fact = |name, holds, why| Fact { name, holds, why };
        let why = &self.why;
        [
            fact("cpu_v4", self.cpu_v4, why.cpu_v4),
            fact("rdonly_cast", self.rdonly_cast, why.rdonly_cast),
            fact("d_path_in_iter", self.d_path_in_iter, why.d_path_in_iter),
            fact(
                "task_iter_params",
                self.task_iter_params,
                why.task_iter_params,
            ),
            fact("ringbuf", self.ringbuf, why.ringbuf),
            fact(
                "probe_read_kernel",
                self.probe_read_kernel,
                why.probe_read_kernel,
            ),
            fact("memlock_charged", self.memlock_charged, why.memlock_charged),
            fact(
                "map_elem_programs",
                self.map_elem_programs,
                why.map_elem_programs,
            ),
            fact(
                "vma_file_path_trusted",
                self.vma_file_path_trusted,
                why.vma_file_path_trusted,
            ),
        ]
    }
}
