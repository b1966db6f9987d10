//! Stage `load`/`read`: the system-call boundary. The only file in bpfq with `unsafe`; it
//! guarantees every pointer handed to the kernel points into a live Rust buffer of the stated
//! length for the whole call, and every fd the kernel returns is owned exactly once.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::mem::{size_of, zeroed};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aya_obj::generated::{
    bpf_attach_type, bpf_attr, bpf_attr__bindgen_ty_14__bindgen_ty_3__bindgen_ty_1, bpf_cmd,
    bpf_link_info, bpf_prog_info, bpf_prog_type,
};

/// `bpf(2)` itself. Private because `attr` may carry raw addresses the kernel reads and writes:
/// only the typed wrappers below, which build `attr` from borrowed buffers, may call it.
fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i64> {
    if matches!(cmd, bpf_cmd::BPF_MAP_CREATE | bpf_cmd::BPF_PROG_LOAD) {
        MEMLOCK_RAISED.call_once(raise_memlock_limit);
    }
    // SAFETY: `attr` is a valid, exclusively borrowed `bpf_attr` of the size we pass. Every
    // caller in this file fills its pointer fields only from slices that outlive this call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            size_of::<bpf_attr>(),
        )
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

static MEMLOCK_RAISED: std::sync::Once = std::sync::Once::new();

/// Kernels before 5.11 charge BPF maps and programs to RLIMIT_MEMLOCK (64 KiB at boot, less
/// than one ring buffer); later ones charge the memory cgroup and ignore the limit. As libbpf
/// does, raise the limit to infinity once before the first map or program; a process that may
/// not (no CAP_SYS_RESOURCE) raises its soft limit to its hard one.
fn raise_memlock_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass by pointer; it lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) } == 0 {
        return;
    }
    // SAFETY: getrlimit writes the struct we own; setrlimit reads it back.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit);
        }
    }
}

/// The soft RLIMIT_MEMLOCK in bytes (None: unlimited), for `bpfq doctor`.
pub fn memlock_limit() -> io::Result<Option<u64>> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass by pointer, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur))
}

/// A `bpf_attr` with every byte zero, as the kernel requires for unused fields.
fn zeroed_attr() -> bpf_attr {
    // SAFETY: `bpf_attr` is a bindgen plain-old-data union of integers; all-zero is valid.
    unsafe { zeroed() }
}

/// Wraps a non-negative fd number the kernel just created for us.
fn owned_fd(raw: i64) -> io::Result<OwnedFd> {
    let raw = i32::try_from(raw).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "kernel returned an fd out of range",
        )
    })?;
    // SAFETY: the kernel returned this fd to us as a fresh descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // A BorrowedFd is never negative, so this cast cannot change the value.
    fd.as_raw_fd() as u32
}

/// Whether fd 1 was closed when the process started (`bpfq ... >&-`). Recorded by a
/// constructor, before the standard library's start-up replaces a closed standard descriptor
/// with /dev/null (after which writes vanish without an error).
pub fn stdout_closed_at_start() -> bool {
    STDOUT_CLOSED_AT_START.load(Ordering::Relaxed)
}

static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl(F_GETFD) only reads the descriptor table entry of fd 1; no memory is passed.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
}

// SAFETY: a function pointer in .init_array is called once by the dynamic loader (or the C
// runtime's start-up) before `main`, with no arguments, as `note_closed_stdout` expects; it
// touches only an atomic.
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// The width in columns of the terminal on `fd`, or `None` when `fd` is not a terminal (or
/// reports no size, as a serial console may).
pub fn terminal_columns(fd: BorrowedFd<'_>) -> Option<u16> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which points at `size`, a
    // live local of exactly that type, for the whole call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut size as *mut libc::winsize,
        )
    };
    (rc == 0 && size.ws_col > 0).then_some(size.ws_col)
}

/// Where the verifier writes its log, and how much it wanted to write.
pub struct VerifierLog<'a> {
    /// 1 = the verifier's decisions; 2 = every instruction's state (very large).
    pub level: u32,
    pub buf: &'a mut [u8],
    /// Set by the kernel: the log size it needed including the NUL (0 on kernels before 6.4).
    pub true_size: u32,
}

/// Everything `BPF_PROG_LOAD` needs for one program.
pub struct ProgLoad<'a> {
    pub prog_type: bpf_prog_type,
    pub expected_attach_type: bpf_attach_type,
    pub attach_btf_id: u32,
    /// Little-endian `struct bpf_insn` array; its length must be a multiple of 8.
    pub insns: &'a [u8],
    pub license: &'a CStr,
    /// At most 15 bytes; the kernel accepts `[A-Za-z0-9_.]`.
    pub name: &'a str,
}

/// `BPF_PROG_LOAD`. The log, when given, is filled even if the load fails.
pub fn prog_load(
    request: &ProgLoad<'_>,
    mut log: Option<&mut VerifierLog<'_>>,
) -> io::Result<OwnedFd> {
    if !request.insns.len().is_multiple_of(8) || request.insns.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "program length must be a non-zero multiple of 8 bytes",
        ));
    }
    let insn_count = u32::try_from(request.insns.len() / 8)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "program too long"))?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut load = unsafe { attr.__bindgen_anon_3 };
    load.prog_type = request.prog_type as u32;
    load.expected_attach_type = request.expected_attach_type as u32;
    load.attach_btf_id = request.attach_btf_id;
    load.insn_cnt = insn_count;
    load.insns = request.insns.as_ptr() as u64;
    load.license = request.license.as_ptr() as u64;
    for (slot, byte) in load.prog_name.iter_mut().zip(request.name.bytes().take(15)) {
        *slot = byte as libc::c_char;
    }
    if let Some(log) = log.as_mut() {
        // The kernel writes at most `log_size` bytes, so clamping keeps it inside `buf`.
        load.log_level = log.level;
        load.log_size = u32::try_from(log.buf.len()).unwrap_or(u32::MAX);
        load.log_buf = log.buf.as_mut_ptr() as u64;
    }
    attr.__bindgen_anon_3 = load;
    let result = bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr);
    if let Some(log) = log {
        // SAFETY: reading back the same POD union field we wrote above.
        log.true_size = unsafe { attr.__bindgen_anon_3.log_true_size };
    }
    owned_fd(result?)
}

/// `BPF_LINK_CREATE` for an iterator program; `iter_info` is a `union bpf_iter_link_info`.
pub fn link_create_iter(prog: BorrowedFd<'_>, iter_info: Option<&[u8]>) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut link = unsafe { attr.link_create };
    link.__bindgen_anon_1.prog_fd = fd_u32(prog);
    link.attach_type = bpf_attach_type::BPF_TRACE_ITER as u32;
    if let Some(info) = iter_info {
        let len = u32::try_from(info.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "iter_info too long"))?;
        link.__bindgen_anon_3.__bindgen_anon_1 =
            bpf_attr__bindgen_ty_14__bindgen_ty_3__bindgen_ty_1 {
                iter_info: info.as_ptr() as u64,
                iter_info_len: len,
            };
    }
    attr.link_create = link;
    owned_fd(bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)?)
}

/// `BPF_ITER_CREATE`: a fresh, anonymous iterator fd that runs the program as it is read.
pub fn iter_create(link: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    attr.iter_create = aya_obj::generated::bpf_attr__bindgen_ty_18 {
        link_fd: fd_u32(link),
        flags: 0,
    };
    owned_fd(bpf(bpf_cmd::BPF_ITER_CREATE, &mut attr)?)
}

/// `setns(2)` of the calling thread into the network namespace `ns` (an open namespace file).
pub fn enter_net_namespace(ns: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns only reads the fd number and flag; the fd is open for the borrow's lifetime.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One `read(2)`; errors such as EINTR are returned as they are for the caller to decide.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live, exclusively borrowed buffer of `buf.len()` bytes.
    let count = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if count < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(count as usize)
    }
}

/// Walks one of the kernel's id lists (`BPF_*_GET_NEXT_ID`) from the start until ENOENT.
fn all_ids(cmd: bpf_cmd) -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut start = 0u32;
    loop {
        let mut attr = zeroed_attr();
        // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
        let mut next = unsafe { attr.__bindgen_anon_6 };
        next.__bindgen_anon_1.start_id = start;
        attr.__bindgen_anon_6 = next;
        match bpf(cmd, &mut attr) {
            Ok(_) => {
                // SAFETY: reading back the POD union field the kernel filled in.
                start = unsafe { attr.__bindgen_anon_6.next_id };
                ids.push(start);
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return Ok(ids),
            Err(err) => return Err(err),
        }
    }
}

/// Ids of every BPF program loaded in the system.
pub fn prog_ids() -> io::Result<Vec<u32>> {
    all_ids(bpf_cmd::BPF_PROG_GET_NEXT_ID)
}

/// Ids of every BPF link in the system.
pub fn link_ids() -> io::Result<Vec<u32>> {
    all_ids(bpf_cmd::BPF_LINK_GET_NEXT_ID)
}

/// `BPF_PROG_GET_FD_BY_ID`: an fd for a program someone else may own (for inspection).
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    fd_by_id(bpf_cmd::BPF_PROG_GET_FD_BY_ID, id)
}

/// The `*_GET_FD_BY_ID` commands: they all read the id from the same union slot (`start_id`,
/// `prog_id`, `map_id` and `link_id` share one offset in `union bpf_attr`).
fn fd_by_id(cmd: bpf_cmd, id: u32) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut by_id = unsafe { attr.__bindgen_anon_6 };
    by_id.__bindgen_anon_1.start_id = id;
    attr.__bindgen_anon_6 = by_id;
    owned_fd(bpf(cmd, &mut attr)?)
}

/// The identity of a loaded program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub name: String,
}

/// The identity of a link and the program it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    pub id: u32,
    pub prog_id: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`, a POD struct the kernel fills up to its size.
fn obj_info<T: Copy>(fd: BorrowedFd<'_>, info: &mut T) -> io::Result<()> {
    let mut attr = zeroed_attr();
    attr.info = aya_obj::generated::bpf_attr__bindgen_ty_9 {
        bpf_fd: fd_u32(fd),
        info_len: size_of::<T>() as u32,
        info: info as *mut T as u64,
    };
    bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(|_| ())
}

/// A kernel object's name: a C char array, NUL-terminated unless it fills the array.
fn object_name(name: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = name
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Id and name of the program behind `fd`.
pub fn prog_info(fd: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    // SAFETY: `bpf_prog_info` is a bindgen POD struct; all-zero is valid.
    let mut info: bpf_prog_info = unsafe { zeroed() };
    obj_info(fd, &mut info)?;
    Ok(ProgInfo {
        id: info.id,
        name: object_name(&info.name),
    })
}

/// Id of the link behind `fd` and of its program.
pub fn link_info(fd: BorrowedFd<'_>) -> io::Result<LinkInfo> {
    // SAFETY: `bpf_link_info` is a bindgen POD struct/union; all-zero is valid.
    let mut info: bpf_link_info = unsafe { zeroed() };
    obj_info(fd, &mut info)?;
    Ok(LinkInfo {
        id: info.id,
        prog_id: info.prog_id,
    })
}

/// A read-only private view of a whole file: a mapping when the file has a size, else its bytes
/// read into memory (sysfs/procfs files may report size 0).
pub struct Mmap {
    backing: Backing,
}

enum Backing {
    Mapped { addr: *mut libc::c_void, len: usize },
    Read(Vec<u8>),
}

// SAFETY: the mapping is private and read-only and bpfq only maps files nobody rewrites
// (sysfs BTF, BTF files), so its bytes do not change after creation; so sharing or
// moving the view across threads cannot race; Drop unmaps it exactly once.
unsafe impl Send for Mmap {}
// SAFETY: as above; `&Mmap` only ever hands out `&[u8]`.
unsafe impl Sync for Mmap {}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        match &self.backing {
            // SAFETY: `addr..addr+len` is a live PROT_READ mapping owned by `self`, unmapped
            // only in Drop, so it outlives the returned borrow.
            Backing::Mapped { addr, len } => unsafe {
                std::slice::from_raw_parts(addr.cast::<u8>(), *len)
            },
            Backing::Read(bytes) => bytes,
        }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if let Backing::Mapped { addr, len } = self.backing {
            // SAFETY: unmapping the mapping we created; no borrow of it can outlive `self`.
            unsafe {
                libc::munmap(addr, len);
            }
        }
    }
}

/// How `mmap_readonly` got a file's bytes (`bpfq doctor` reports it for the kernel's BTF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMethod {
    /// A private read-only mapping.
    Mapped,
    /// Read into memory: the file reports size 0 (procfs), or refuses mmap (sysfs BTF before
    /// Linux 6.16 answers ENODEV).
    Read,
}

impl Mmap {
    /// Whether the bytes are mapped or were read.
    pub fn method(&self) -> ReadMethod {
        match self.backing {
            Backing::Mapped { .. } => ReadMethod::Mapped,
            Backing::Read(_) => ReadMethod::Read,
        }
    }
}

/// Maps `path` MAP_PRIVATE + PROT_READ (sysfs BTF refuses MAP_SHARED); a file that reports a
/// zero size, or whose mmap the kernel refuses (ENODEV, EINVAL, EACCES), is read instead.
pub fn mmap_readonly(path: &Path) -> io::Result<Mmap> {
    let mut file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large to map"))?;
    let read_whole = |file: &mut File| -> io::Result<Mmap> {
        let mut bytes = Vec::with_capacity(len);
        file.read_to_end(&mut bytes)?;
        Ok(Mmap {
            backing: Backing::Read(bytes),
        })
    };
    if len == 0 {
        return read_whole(&mut file);
    }
    // SAFETY: a fresh private read-only mapping of an fd we hold open; the kernel picks the
    // address, so no existing memory is affected.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            // A file system without mmap for this file (kernfs answers ENODEV): read(2) works.
            Some(libc::ENODEV | libc::EINVAL | libc::EACCES) => read_whole(&mut file),
            _ => Err(err),
        };
    }
    Ok(Mmap {
        backing: Backing::Mapped { addr, len },
    })
}

// ------------------------------------------------------------------ maps (map-element targets)

/// Ids of every BPF map in the system.
pub fn map_ids() -> io::Result<Vec<u32>> {
    all_ids(bpf_cmd::BPF_MAP_GET_NEXT_ID)
}

/// `BPF_MAP_GET_FD_BY_ID`: an fd for a map someone else may own.
pub fn map_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    fd_by_id(bpf_cmd::BPF_MAP_GET_FD_BY_ID, id)
}

/// `BPF_OBJ_GET`: an fd for the BPF object pinned at `path` (in a bpffs mount).
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut get = unsafe { attr.__bindgen_anon_4 };
    // `c_path` lives until the end of this function, after the call.
    get.pathname = c_path.as_ptr() as u64;
    attr.__bindgen_anon_4 = get;
    owned_fd(bpf(bpf_cmd::BPF_OBJ_GET, &mut attr)?)
}

/// What a map is: its identity and the sizes of its keys and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    pub id: u32,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub name: String,
}

/// Identity and shape of the map behind `fd` (EINVAL when `fd` is no map).
pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<MapInfo> {
    // SAFETY: `bpf_map_info` is a bindgen POD struct; all-zero is valid.
    let mut info: aya_obj::generated::bpf_map_info = unsafe { zeroed() };
    obj_info(fd, &mut info)?;
    Ok(MapInfo {
        id: info.id,
        map_type: info.type_,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        name: object_name(&info.name),
    })
}

// ---- BPF ring buffer maps (row transport of targets whose seq output is lossy) ----

/// `BPF_MAP_CREATE` of a `BPF_MAP_TYPE_RINGBUF` with `size` data bytes (a power of two and a
/// multiple of the page size, or the kernel says EINVAL), named `name` (at most 15 bytes).
pub fn ringbuf_create(name: &str, size: u32) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut create = unsafe { attr.__bindgen_anon_1 };
    create.map_type = aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
    create.max_entries = size;
    for (slot, byte) in create.map_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte as libc::c_char;
    }
    attr.__bindgen_anon_1 = create;
    owned_fd(bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr)?)
}

/// A map element buffer must be exactly the size the kernel fixed for the map, so the kernel
/// never reads or writes past it.
fn check_len(buffer: &[u8], len: usize) -> io::Result<()> {
    if buffer.len() == len {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "map element buffer of the wrong size",
        ))
    }
}

/// An empty `BPF_MAP_TYPE_SK_STORAGE` map named `name` with `value_size`-byte values: a stand-in
/// for the verifier (`probe.rs`). Such a map needs BTF for its key (an int) and value (here an
/// array of bytes); the BTF is loaded first, and its fd closed once the map holds it.
pub fn sk_storage_create(name: &str, value_size: u32) -> io::Result<OwnedFd> {
    let btf = sk_storage_btf(value_size);
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut load = unsafe { attr.__bindgen_anon_7 };
    load.btf = btf.as_ptr() as u64;
    load.btf_size = btf.len() as u32;
    attr.__bindgen_anon_7 = load;
    // `btf` outlives the call, which only reads `btf_size` bytes of it.
    let btf_fd = owned_fd(bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr)?)?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut create = unsafe { attr.__bindgen_anon_1 };
    create.map_type = aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_SK_STORAGE as u32;
    create.key_size = 4;
    create.value_size = value_size;
    // BPF_F_NO_PREALLOC: the kernel requires it of local storage maps.
    create.map_flags = 1;
    create.btf_fd = btf_fd.as_raw_fd() as u32;
    create.btf_key_type_id = 1;
    create.btf_value_type_id = 3;
    for (slot, byte) in create.map_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte as libc::c_char;
    }
    attr.__bindgen_anon_1 = create;
    owned_fd(bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr)?)
}

/// BTF of [1] `int` (4 bytes, signed), [2] `unsigned char`, [3] `unsigned char[value_size]`.
fn sk_storage_btf(value_size: u32) -> Vec<u8> {
    const INT: u32 = 1 << 24;
    const ARRAY: u32 = 3 << 24;
    let strings = b"\0int\0unsigned char\0";
    let words: [u32; 14] = [
        1,
        INT,
        4,
        (1 << 24) | 32, // int: signed, 32 bits
        5,
        INT,
        1,
        8, // unsigned char
        0,
        ARRAY,
        0,
        2,
        1,
        value_size, // elements of [2], indexed by [1]
    ];
    let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut blob = Vec::new();
    blob.extend_from_slice(&0xEB9F_u16.to_le_bytes());
    blob.extend_from_slice(&[1, 0]); // version 1, no flags
    for word in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        blob.extend_from_slice(&word.to_le_bytes());
    }
    blob.extend_from_slice(&types);
    blob.extend_from_slice(strings);
    blob
}

/// A `BPF_MAP_TYPE_HASH` this process created, with the key and value sizes the kernel fixed
/// then: element reads check their buffers against them, so the kernel never writes past one.
pub struct HashMapFd {
    fd: OwnedFd,
    key_size: u32,
    value_size: u32,
}

impl HashMapFd {
    /// Creates a hash map named `name` (at most 15 bytes kept) with room for `max_entries`
    /// elements, preallocated: an update from the iterator program never allocates, and fails
    /// with E2BIG only when the map is full.
    pub fn create(
        name: &str,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> io::Result<HashMapFd> {
        let mut attr = zeroed_attr();
        // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
        let mut create = unsafe { attr.__bindgen_anon_1 };
        create.map_type = aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_HASH as u32;
        create.key_size = key_size;
        create.value_size = value_size;
        create.max_entries = max_entries;
        for (slot, byte) in create.map_name.iter_mut().zip(name.bytes().take(15)) {
            *slot = byte as libc::c_char;
        }
        attr.__bindgen_anon_1 = create;
        let fd = owned_fd(bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr)?)?;
        Ok(HashMapFd {
            fd,
            key_size,
            value_size,
        })
    }

    /// The key after `key` (the first key when `key` is None) into `next`; false when there is
    /// none. Both buffers must be exactly the key size.
    pub fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
        if let Some(key) = key {
            check_len(key, self.key_size as usize)?;
        }
        check_len(next, self.key_size as usize)?;
        elem_next_key(self.fd.as_fd(), key, next)
    }

    /// The value of `key` into `value` (exactly the value size); false when the key is absent.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        check_len(key, self.key_size as usize)?;
        check_len(value, self.value_size as usize)?;
        elem_lookup(self.fd.as_fd(), key, value)
    }

    /// Sets `key`'s value to `value` (BPF_ANY: added or replaced; E2BIG when the map is full).
    pub fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        check_len(key, self.key_size as usize)?;
        check_len(value, self.value_size as usize)?;
        let mut attr = zeroed_attr();
        // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
        let mut elem = unsafe { attr.__bindgen_anon_2 };
        elem.map_fd = self.fd.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        elem.__bindgen_anon_1.value = value.as_ptr() as u64;
        elem.flags = 0; // BPF_ANY
        attr.__bindgen_anon_2 = elem;
        bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
    }

    /// Removes `key`; false when it was absent.
    pub fn delete(&self, key: &[u8]) -> io::Result<bool> {
        check_len(key, self.key_size as usize)?;
        let mut attr = zeroed_attr();
        // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
        let mut elem = unsafe { attr.__bindgen_anon_2 };
        elem.map_fd = self.fd.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        attr.__bindgen_anon_2 = elem;
        match bpf(bpf_cmd::BPF_MAP_DELETE_ELEM, &mut attr) {
            Ok(_) => Ok(true),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Where a batch drain of a hash map (`HashMapFd::take_batch`) stands: the kernel's token (a
/// bucket index) between calls.
#[derive(Default)]
pub struct BatchPosition {
    started: bool,
    token: u64,
}

/// What one `HashMapFd::take_batch` handed over.
pub struct BatchTaken {
    /// Elements written to the buffers (and removed from the map).
    pub count: usize,
    /// The map has no element left after these.
    pub done: bool,
}

impl HashMapFd {
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH` (Linux 5.6+): moves up to `keys.len() / key size`
    /// elements out of the map into `keys` and `values` (each element's key and value at the
    /// same index, values at the value size apart), continuing from `position`. ENOSPC means
    /// one hash bucket holds more elements than the buffers: retry with larger ones.
    pub fn take_batch(
        &self,
        position: &mut BatchPosition,
        keys: &mut [u8],
        values: &mut [u8],
    ) -> io::Result<BatchTaken> {
        let (key_size, value_size) = (self.key_size as usize, self.value_size as usize);
        let room = keys.len() / key_size.max(1);
        check_len(keys, room * key_size)?;
        check_len(values, room * value_size)?;
        let token_in = position.token;
        let mut token_out = 0u64;
        let mut attr = zeroed_attr();
        // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
        let mut batch = unsafe { attr.batch };
        batch.map_fd = self.fd.as_raw_fd() as u32;
        // The token is a u32 for hash maps; 8 bytes leave room.
        batch.in_batch = if position.started {
            &token_in as *const u64 as u64
        } else {
            0
        };
        batch.out_batch = &mut token_out as *mut u64 as u64;
        batch.keys = keys.as_mut_ptr() as u64;
        batch.values = values.as_mut_ptr() as u64;
        batch.count = u32::try_from(room).unwrap_or(u32::MAX);
        attr.batch = batch;
        let result = bpf(bpf_cmd::BPF_MAP_LOOKUP_AND_DELETE_BATCH, &mut attr);
        // SAFETY: reading a POD union field the kernel wrote back (the count it copied out).
        let count = unsafe { attr.batch.count } as usize;
        let done = match result {
            Ok(_) => false,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => true,
            Err(err) => return Err(err),
        };
        position.started = true;
        position.token = token_out;
        Ok(BatchTaken {
            count: count.min(room),
            done,
        })
    }
}

/// `BPF_MAP_GET_NEXT_KEY` of the map `fd`. The caller has checked that `next` (and `key`) hold
/// exactly the map's key size: the kernel reads and writes that many bytes.
fn elem_next_key(fd: BorrowedFd<'_>, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut elem = unsafe { attr.__bindgen_anon_2 };
    elem.map_fd = fd.as_raw_fd() as u32;
    elem.key = key.map_or(0, |k| k.as_ptr() as u64);
    elem.__bindgen_anon_1.next_key = next.as_mut_ptr() as u64;
    attr.__bindgen_anon_2 = elem;
    match bpf(bpf_cmd::BPF_MAP_GET_NEXT_KEY, &mut attr) {
        Ok(_) => Ok(true),
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(err) => Err(err),
    }
}

/// `BPF_MAP_LOOKUP_ELEM` of the map `fd`. The caller has checked that `key` holds the map's
/// key size and `value` as many bytes as the kernel writes for one lookup.
fn elem_lookup(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut elem = unsafe { attr.__bindgen_anon_2 };
    elem.map_fd = fd.as_raw_fd() as u32;
    elem.key = key.as_ptr() as u64;
    elem.__bindgen_anon_1.value = value.as_mut_ptr() as u64;
    attr.__bindgen_anon_2 = elem;
    match bpf(bpf_cmd::BPF_MAP_LOOKUP_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Another program's map, read element by element from user space (a `bpf_map_elem` query on a
/// kernel that refuses map-element programs, or a sockmap's cookies for a `sockmap` query read
/// through socket iterators). Only the types whose lookup size is known are accepted: hash,
/// array, LRU hash (value_size bytes), per-CPU hash, array and LRU hash (value_size rounded up to
/// 8, times the possible CPUs), and sockmap and sockhash with 8-byte values (the socket's cookie;
/// the kernel answers ENOSPC for other sizes), so the kernel never writes past a buffer.
pub struct MapElements {
    fd: OwnedFd,
    info: MapInfo,
    value_len: usize,
}

impl MapElements {
    /// Takes `fd` (a map) with its info, read now; `possible_cpus` sizes a per-CPU map's values.
    pub fn new(fd: OwnedFd, possible_cpus: u32) -> io::Result<MapElements> {
        let info = map_info(fd.as_fd())?;
        let value_len = match info.map_type {
            1 | 2 | 9 => info.value_size as usize,
            5 | 6 | 10 => (info.value_size as usize).next_multiple_of(8) * possible_cpus as usize,
            15 | 18 if info.value_size == 8 => 8,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("map type {other} is not read element by element"),
                ))
            }
        };
        Ok(MapElements {
            fd,
            info,
            value_len,
        })
    }

    /// The map's info (id, name, type, sizes) when it was opened.
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// Bytes of one key.
    pub fn key_len(&self) -> usize {
        self.info.key_size as usize
    }

    /// Bytes one lookup writes: the value, or a per-CPU map's values of every possible CPU.
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    /// As `HashMapFd::next_key`; both buffers must be `key_len` bytes.
    pub fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
        if let Some(key) = key {
            check_len(key, self.key_len())?;
        }
        check_len(next, self.key_len())?;
        elem_next_key(self.fd.as_fd(), key, next)
    }

    /// The value(s) of `key` into `value` (`value_len` bytes); false when the key is absent.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        check_len(key, self.key_len())?;
        check_len(value, self.value_len)?;
        elem_lookup(self.fd.as_fd(), key, value)
    }

    /// Calls `visit` with the key and value(s) of each element, in the map's key order, until it
    /// breaks. A key deleted between GET_NEXT_KEY and LOOKUP_ELEM (or an empty sockmap slot) is
    /// skipped.
    pub fn each(
        &self,
        mut visit: impl FnMut(&[u8], &[u8]) -> io::Result<ControlFlow<()>>,
    ) -> io::Result<()> {
        let mut key = vec![0u8; self.key_len()];
        let mut next = vec![0u8; self.key_len()];
        let mut value = vec![0u8; self.value_len];
        let mut first = true;
        while self.next_key((!first).then_some(key.as_slice()), &mut next)? {
            first = false;
            std::mem::swap(&mut key, &mut next);
            if self.lookup(&key, &mut value)? && visit(&key, &value)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl std::os::fd::AsFd for HashMapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The size of a memory page, the unit of ring buffer sizes and mapping offsets.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// A `MAP_SHARED` view of part of a BPF map (ring buffer pages; read-only but for a ring's
/// consumer page); unmapped on drop.
/// The map stays alive while the mapping exists, even after its fd is closed.
pub struct SharedMapping {
    addr: *mut libc::c_void,
    len: usize,
    writable: bool,
}

/// Maps `len` bytes (a multiple of the page size, non-zero) of the map behind `fd`, starting at
/// byte `offset` (a multiple of the page size), read-only and shared with the kernel.
pub fn mmap_map_readonly(
    fd: BorrowedFd<'_>,
    offset: usize,
    len: usize,
) -> io::Result<SharedMapping> {
    mmap_map_shared(fd, offset, len, false)
}

/// Maps the first `len` bytes of the map behind `fd` (a ring buffer's consumer page)
/// read-write and shared with the kernel: the only part of a ring user space may write.
pub fn mmap_map_read_write(fd: BorrowedFd<'_>, len: usize) -> io::Result<SharedMapping> {
    mmap_map_shared(fd, 0, len, true)
}

fn mmap_map_shared(
    fd: BorrowedFd<'_>,
    offset: usize,
    len: usize,
    writable: bool,
) -> io::Result<SharedMapping> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping offset too large"))?;
    if len == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
    }
    let protection = match writable {
        true => libc::PROT_READ | libc::PROT_WRITE,
        false => libc::PROT_READ,
    };
    // SAFETY: a fresh shared mapping of an fd we hold open; the kernel picks the address, so no
    // existing memory is affected.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            protection,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            offset,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(SharedMapping {
        addr,
        len,
        writable,
    })
}

impl SharedMapping {
    /// The little-endian u64 at byte `offset` (8-aligned), read with acquire ordering, as the
    /// kernel publishes ring positions with release stores.
    pub fn load_u64_acquire(&self, offset: usize) -> Option<u64> {
        if !offset.is_multiple_of(8) || offset.checked_add(8)? > self.len {
            return None;
        }
        // SAFETY: `addr + offset` is 8-aligned (page-aligned mapping, aligned offset) and inside
        // the live mapping; an AtomicU64 may alias memory another agent writes.
        let atomic = unsafe { &*(self.addr.cast::<u8>().add(offset) as *const AtomicU64) };
        Some(atomic.load(Ordering::Acquire))
    }

    /// Stores `value` at byte `offset` (8-aligned) with release ordering, as the kernel reads
    /// a ring's consumer position with an acquire load; false when the mapping is read-only or
    /// `offset` is out of it.
    pub fn store_u64_release(&self, offset: usize, value: u64) -> bool {
        if !self.writable
            || !offset.is_multiple_of(8)
            || offset.checked_add(8).is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: the mapping is PROT_WRITE (checked above), `addr + offset` is 8-aligned and
        // inside it; an AtomicU64 may alias memory another agent reads.
        let atomic = unsafe { &*(self.addr.cast::<u8>().add(offset) as *const AtomicU64) };
        atomic.store(value, Ordering::Release);
        true
    }

    /// The mapped bytes. Only for memory nobody writes while the borrow lives: bpfq reads a
    /// ring's data after the walk, when the only producer (its own program, which runs only
    /// inside `read(2)` of its own iterator fd) has been closed.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `addr..addr+len` is a live PROT_READ mapping owned by `self`, unmapped only in
        // Drop, so it outlives the borrow; per the contract above nothing writes it meanwhile.
        unsafe { std::slice::from_raw_parts(self.addr.cast::<u8>(), self.len) }
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping we created; no borrow of it can outlive `self`.
        unsafe {
            libc::munmap(self.addr, self.len);
        }
    }
}

// ---- Pinned iterators (`bpfq pin`): read-only format maps, pins, the bpffs check ----

/// A `BPF_MAP_TYPE_ARRAY` of one element holding `value`, read-only for programs
/// (`BPF_F_RDONLY_PROG`) and frozen, so the verifier accepts it as `bpf_seq_printf`'s format.
pub fn frozen_array_create(name: &str, value: &[u8]) -> io::Result<OwnedFd> {
    let value_size = u32::try_from(value.len())
        .ok()
        .filter(|&size| size > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad map value size"))?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut create = unsafe { attr.__bindgen_anon_1 };
    create.map_type = aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_ARRAY as u32;
    create.key_size = 4;
    create.value_size = value_size;
    create.max_entries = 1;
    create.map_flags = aya_obj::generated::BPF_F_RDONLY_PROG;
    for (slot, byte) in create.map_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte as libc::c_char;
    }
    attr.__bindgen_anon_1 = create;
    let map = owned_fd(bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr)?)?;
    let key = 0u32;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut update = unsafe { attr.__bindgen_anon_2 };
    update.map_fd = fd_u32(map.as_fd());
    // `key` and `value` live until the end of this function, after the call; the kernel reads
    // 4 and `value_size` bytes, their exact sizes.
    update.key = &key as *const u32 as u64;
    update.__bindgen_anon_1.value = value.as_ptr() as u64;
    attr.__bindgen_anon_2 = update;
    bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr)?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut freeze = unsafe { attr.__bindgen_anon_2 };
    freeze.map_fd = fd_u32(map.as_fd());
    attr.__bindgen_anon_2 = freeze;
    bpf(bpf_cmd::BPF_MAP_FREEZE, &mut attr)?;
    Ok(map)
}

/// `BPF_OBJ_PIN`: makes the BPF object behind `fd` live on as the file `path` (in a bpffs).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut attr = zeroed_attr();
    // SAFETY: reading a zeroed POD union field; every bit pattern of it is valid.
    let mut pin = unsafe { attr.__bindgen_anon_4 };
    // `c_path` lives until the end of this function, after the call.
    pin.pathname = c_path.as_ptr() as u64;
    pin.bpf_fd = fd_u32(fd);
    attr.__bindgen_anon_4 = pin;
    bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map(|_| ())
}

/// The magic number of the BPF filesystem (`BPF_FS_MAGIC`, statfs(2)'s `f_type`).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// statfs(2)'s `f_type` of the filesystem holding `path`.
pub fn filesystem_magic(path: &Path) -> io::Result<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `statfs` is a POD struct of integers; all-zero is valid.
    let mut stat: libc::statfs = unsafe { zeroed() };
    // SAFETY: `c_path` is a NUL-terminated string and `stat` a writable statfs, both alive for
    // the call; the kernel writes only `size_of::<statfs>()` bytes.
    let result = unsafe { libc::statfs(c_path.as_ptr(), &mut stat) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // f_type is a signed word on x86_64 and aarch64 alike.
    #[allow(clippy::unnecessary_cast)]
    Ok(stat.f_type as i64)
}

/// The time of `clock` (`libc::CLOCK_REALTIME`, `CLOCK_BOOTTIME`...) in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> io::Result<i64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec the call writes and nothing else.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(now.tv_sec * 1_000_000_000 + now.tv_nsec)
}

/// capset(2)'s header (`struct __user_cap_header_struct`).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// capset(2)'s data (`struct __user_cap_data_struct`), two of them for 64 capability bits.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two `CapData`.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets this thread's effective and permitted capabilities to `mask` (inheritable to none); the
/// kernel refuses to raise any capability not already permitted.
pub fn set_capabilities(mask: u64) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |bits: u64| CapData {
        effective: bits as u32,
        permitted: bits as u32,
        inheritable: 0,
    };
    let data = [half(mask), half(mask >> 32)];
    // SAFETY: `header` and `data` are live, correctly laid out (repr(C), version 3 wants two
    // data structs) for the whole call; capset only reads them (and may write the header's
    // version on a mismatch, into our own mutable header).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The effective user id of this process (whose files bpfq trusts besides root's).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// open(2) with `O_PATH | O_NOFOLLOW`: a handle on the directory entry itself, never on what a
/// symbolic link points to, and without opening the file for reading (a pinned iterator is not
/// run). The file it names stays the same whatever is renamed afterwards.
pub fn open_entry_no_follow(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `c_path` is a NUL-terminated string alive for the call; open reads only it.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(i64::from(fd))
}
