//! Timing example: measures opening BTF and finding names (the compile path's BTF cost); run with `cargo run --release --example btf_timing [FILE]`.

use std::time::{Duration, Instant};

use bpfq_kernel::{find_target, Btf, KernelFeatures, Kind};

const ROUNDS: usize = 21;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/sys/kernel/btf/vmlinux".to_string());
    let read_started = Instant::now();
    let bytes = std::fs::read(&path)?;
    let read_time = read_started.elapsed();
    println!("{path}: {} bytes, read() took {read_time:?}", bytes.len());

    let wanted = [
        (Kind::Struct, "bpf_iter__task"),
        (Kind::Func, "bpf_iter_task"),
        (Kind::Struct, "task_struct"),
    ];
    let mut open_and_find = Vec::new();
    let mut find_target_times = Vec::new();
    let mut features_times = Vec::new();
    let mut target_then_features = Vec::new();
    let mut type_count = 0;
    for _ in 0..ROUNDS {
        // The copy stands in for an mmap owned elsewhere; it is made outside the timed region.
        let shared: Box<dyn AsRef<[u8]> + Send + Sync> = Box::new(bytes.clone());
        let started = Instant::now();
        let btf = Btf::from_shared(shared)?;
        let found = btf.find_many(&wanted);
        open_and_find.push(started.elapsed());
        assert!(
            found.iter().all(Option::is_some),
            "names not found: {found:?}"
        );
        type_count = btf.type_count();

        let btf = Btf::from_shared(Box::new(bytes.clone()))?;
        let started = Instant::now();
        let target = find_target(&btf, "task")?;
        find_target_times.push(started.elapsed());
        assert!(target.is_some());

        let btf = Btf::from_shared(Box::new(bytes.clone()))?;
        let started = Instant::now();
        KernelFeatures::from_btf(&btf)?;
        features_times.push(started.elapsed());

        // The compile path: the target's lookup first, then the features on the same index.
        let btf = Btf::from_shared(Box::new(bytes.clone()))?;
        find_target(&btf, "task")?;
        let started = Instant::now();
        KernelFeatures::from_btf(&btf)?;
        target_then_features.push(started.elapsed());
    }
    println!("{type_count} type ids");
    println!(
        "from_shared + find_many(3 names): median {:?} over {ROUNDS} rounds",
        median(open_and_find)
    );
    println!(
        "fresh Btf + find_target(\"task\") (index + lookup + context members): median {:?}",
        median(find_target_times)
    );
    println!(
        "fresh Btf + KernelFeatures::from_btf: median {:?}",
        median(features_times)
    );
    println!(
        "KernelFeatures::from_btf after find_target(\"task\"): median {:?}",
        median(target_then_features)
    );
    Ok(())
}
