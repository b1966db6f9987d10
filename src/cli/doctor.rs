//! `bpfq doctor`: what this kernel and this process allow, as one list of (item, status,
//! detail) rows in any output format: kernel release, how BTF was read, lockdown, capabilities,
//! memlock limit, bpffs, and for every iterator target whether its default query passes the
//! verifier (loaded with stand-in maps and dropped: nothing is left in the kernel).

use super::{
    args::{Common, OutputArgs},
    compile_query, open_kernel_probed, Failure, Kernel, VMLINUX_BTF,
};
use bpfq_compiler::map_walk::RowsFrom;
use bpfq_compiler::maps::{accepted_types, map_type_name};
use bpfq_compiler::pipeline::CompiledQuery;
use bpfq_kernel::catalogue::discover;
use bpfq_runtime::{lockdown, probe, sys, verifier_report, LoadError};
use std::path::Path;

/// One line of the report.
struct Finding {
    item: String,
    status: String,
    detail: String,
}

impl Finding {
    fn new(item: impl Into<String>, status: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            item: item.into(),
            status: status.into(),
            detail: detail.into(),
        }
    }
}

pub fn doctor(common: &Common, output: &OutputArgs) -> Result<(), Failure> {
    if common.btf.is_some() {
        return Err(Failure::Usage(
            "doctor examines the running kernel; `bpfq targets --btf FILE` lists another kernel's targets".into(),
        ));
    }
    let mut findings = vec![Finding::new(
        "kernel",
        "info",
        verifier_report::kernel_release(),
    )];
    let kernel = match open_kernel_probed(None) {
        Ok(kernel) => {
            findings.push(btf_finding(&kernel));
            Some(kernel)
        }
        Err(failure) => {
            let why = match &failure {
                Failure::Runtime(msg) | Failure::Usage(msg) => msg.clone(),
                Failure::OutputClosed => String::new(),
                Failure::Compile(diag, _) | Failure::Refused(diag) => diag.message.clone(),
            };
            findings.push(Finding::new("btf", "missing", why));
            None
        }
    };
    findings.extend(machine_findings());
    if let Some(kernel) = &kernel {
        findings.extend(feature_findings(kernel));
        findings.extend(target_findings(kernel, common)?);
    }
    write_findings(&findings, output)
}

fn btf_finding(kernel: &Kernel) -> Finding {
    let how = match kernel.btf_read {
        Some(sys::ReadMethod::Mapped) => "mapped (mmap)",
        Some(sys::ReadMethod::Read) => "read with read(2): this kernel's sysfs cannot map it",
        None => "a file",
    };
    let size = kernel.btf.bytes().len();
    Finding::new("btf", "ok", format!("{VMLINUX_BTF}, {size} bytes, {how}"))
}

/// Lockdown, capabilities, memlock and bpffs.
fn machine_findings() -> Vec<Finding> {
    let lockdown = lockdown::lockdown();
    let lockdown_detail = match &lockdown {
        lockdown::Lockdown::None => "BPF may read kernel memory".to_string(),
        lockdown::Lockdown::Integrity => {
            "BPF may read kernel memory; writing user memory is denied (bpfq never does)".into()
        }
        lockdown::Lockdown::Confidentiality => "the kernel denies bpf_probe_read_kernel to BPF programs (Linux 5.13+ refuses such a program at load; 5.10 makes the helper fail and read zeros): columns read through it (pointer casts on kernels without bpf_rdonly_cast, fields the verifier cannot check) fail; direct BTF loads and paths still work".into(),
        lockdown::Lockdown::Unknown(why) => why.clone(),
    };
    let lockdown_status = match &lockdown {
        lockdown::Lockdown::Unknown(_) => "unknown".to_string(),
        known => known.describe(),
    };
    let caps = match bpfq_runtime::caps::effective_capabilities() {
        Ok(mask) => match bpfq_runtime::caps::missing_for_tracing(mask) {
            None => Finding::new(
                "capabilities",
                "ok",
                "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) held",
            ),
            Some(missing) => Finding::new(
                "capabilities",
                "missing",
                format!("{missing}: run bpfq as root or grant them"),
            ),
        },
        Err(e) => Finding::new("capabilities", "unknown", e.to_string()),
    };
    let memlock = match sys::memlock_limit() {
        Ok(None) => Finding::new("memlock", "ok", "unlimited"),
        Ok(Some(bytes)) => Finding::new(
            "memlock",
            "ok",
            format!("{bytes} bytes; bpfq raises it before loading (kernels before 5.11 charge maps to it)"),
        ),
        Err(e) => Finding::new("memlock", "unknown", e.to_string()),
    };
    let bpffs = match sys::filesystem_magic(Path::new("/sys/fs/bpf")) {
        Ok(magic) if magic == sys::BPF_FS_MAGIC => {
            Finding::new("bpffs", "ok", "/sys/fs/bpf is mounted")
        }
        _ => Finding::new(
            "bpffs",
            "not mounted",
            "only `bpfq pin` needs it: mount -t bpf bpf /sys/fs/bpf",
        ),
    };
    vec![
        Finding::new("lockdown", lockdown_status, lockdown_detail),
        caps,
        memlock,
        bpffs,
    ]
}

/// Each fact of the kernel's features (`KernelFeatures`): yes or no, and why (BTF marker, or
/// the probe's trial load).
fn feature_findings(kernel: &Kernel) -> Vec<Finding> {
    kernel
        .features
        .facts()
        .into_iter()
        .map(|fact| {
            let holds = if fact.holds { "yes" } else { "no" };
            Finding::new(
                format!("feature {}", fact.name),
                holds,
                fact.why.to_string(),
            )
        })
        .collect()
}

/// For each target, whether `from TARGET` (its default columns) passes the verifier; a
/// map-element target is compiled for a stand-in map of the first type it accepts.
fn target_findings(kernel: &Kernel, common: &Common) -> Result<Vec<Finding>, Failure> {
    let targets = discover(&kernel.btf).map_err(|e| {
        Failure::Runtime(format!("cannot list iterator targets: malformed BTF: {e}"))
    })?;
    let mut findings = Vec::new();
    for target in targets {
        let mut common = common.clone();
        let query = match accepted_types(&target.name) {
            Some(types) => {
                common.map_shape = Some(format!("{}:4:8", map_type_name(types[0])));
                format!("from {}(map = \"bpfq_doctor\")", target.name)
            }
            None => format!("from {}", target.name),
        };
        let item = format!("target {}", target.name);
        let compiled = match compile_query(&query, kernel, &common) {
            Ok((CompiledQuery::Single(compiled), _)) => compiled,
            Ok((CompiledQuery::Join(_), _)) => continue,
            Err(Failure::Compile(diag, _)) => {
                findings.push(Finding::new(
                    item,
                    "unavailable",
                    format!("`{query}` does not compile: {}", diag.message),
                ));
                continue;
            }
            Err(other) => return Err(other),
        };
        if matches!(compiled.plan.rows_from, RowsFrom::MapWalk(_)) {
            findings.push(Finding::new(
                item,
                WITH_FALLBACK,
                "no program (this kernel refuses map-element programs): rows read from user space \
                 with the map syscalls",
            ));
            continue;
        }
        if let RowsFrom::SocketIterators(sockets) = &compiled.plan.rows_from {
            findings.push(match probe::socket_programs_accepted(&compiled) {
                Ok(()) => Finding::new(
                    item,
                    WITH_FALLBACK,
                    format!(
                        "no {} program (this kernel refuses map-element programs): rows read \
                         through the {} iterators {}",
                        target.name,
                        sockets.names(),
                        sockets.how()
                    ),
                ),
                Err(err) => Finding::new(item, "unavailable", refusal(&err)),
            });
            continue;
        }
        // Columns built another way than on the newest kernels (a d_path by dentry walk).
        let fallbacks = bpfq_compiler::variants::path_variants(&compiled.plan, &kernel.features);
        findings.push(match probe::verifier_accepts(&compiled) {
            Ok(()) if fallbacks.is_empty() => Finding::new(item, "works", ""),
            Ok(()) => Finding::new(item, WITH_FALLBACK, fallbacks.join("; ")),
            Err(err) => Finding::new(item, "unavailable", refusal(&err)),
        });
    }
    Ok(findings)
}

/// The status of a target whose default query works, some of it another way than on kernels
/// that allow everything (the detail says which way and why).
const WITH_FALLBACK: &str = "works with fallback";

/// A kernel refusal in one line.
fn refusal(err: &LoadError) -> String {
    match err {
        LoadError::Verifier { errno, log } => verifier_report::summary(*errno, log),
        other => format!("the kernel refuses its program: {other}"),
    }
}

fn write_findings(findings: &[Finding], output: &OutputArgs) -> Result<(), Failure> {
    let rows = findings
        .iter()
        .map(|f| vec![f.item.clone(), f.status.clone(), f.detail.clone()]);
    super::output::write_text_rows(&["item", "status", "detail"], 256, rows, output)
}
