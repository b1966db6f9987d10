//! The kernel test binary: queries run through the live kernel and compared with independent
//! views (/proc, bpftool, debugfs), one module per target or concern. Modules run on parallel
//! threads of one process, so every test takes `common::shared_kernel`, and a test that counts
//! kernel-wide state (bpfq_* objects, pins, leaks, scale tests of thousands of sockets or routes)
//! takes `common::exclusive_kernel` and runs alone.

#[path = "../common/mod.rs"]
mod common;

mod addresses;
mod bpf_objects;
mod cgroup_path;
mod changes;
mod churn;
mod dmabuf;
mod escaping;
mod expr;
mod fold;
mod functions;
mod group;
mod isa_variants;
mod join;
mod join_limits;
mod join_many;
mod kptr;
mod leaks;
mod like;
mod map_elem;
mod netns;
mod paths;
mod pin;
mod prepared;
mod random;
mod route_scale;
mod row_hygiene;
mod serve;
mod shown_values;
mod socket_scale;
mod sockets;
mod streaming;
mod system;
mod task;
mod task_columns;
mod tcp_40k;
mod trust;
mod unix_scale;
mod unprivileged;
mod values;
mod verifier_report;
