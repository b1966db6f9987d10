//! Test support: network namespaces a test creates (`ip netns add`, loopback up), deleted on
//! drop even when the test panics.

use std::process::Command;

/// A network namespace of this test, deleted on drop.
pub struct Namespace(pub String);

impl Namespace {
    pub fn create(tag: &str) -> Namespace {
        // Unique per test of this binary: tests run in parallel.
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("bq_ns{tag}_{}_{n}", std::process::id());
        let ok = |args: &[&str]| {
            assert!(
                Command::new("ip")
                    .args(args)
                    .status()
                    .expect("ip (iproute2)")
                    .success(),
                "ip {args:?}"
            )
        };
        ok(&["netns", "add", &name]);
        let ns = Namespace(name);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
