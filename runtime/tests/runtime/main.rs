//! The runtime test binary: decode + format golden tests, the loader and reader on the live
//! kernel, and the read-only mmap of sysfs BTF.

mod format_golden;
mod kernel_iter;
mod sys_mmap;
