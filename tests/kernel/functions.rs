//! Kernel tests: functions computed in user space over live rows of a process the test spawns,
//! each checked against the value the test computes itself from the name and pid it chose; a
//! `where` condition using one keeps exactly the rows it holds for; `task.started` against
//! /proc/PID/stat's starttime plus /proc/stat's btime, shown as RFC 3339 in JSON and as local
//! time (the zone of `TZ`) elsewhere; `task.age` against the test's own clock.

use crate::common;

use common::*;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `args` run with `TZ` set to `zone`; stdout, asserting success.
fn bpfq_in_zone(zone: &str, args: &[&str]) -> String {
    let out = Command::new(bpfq_path())
        .args(args)
        .env("TZ", zone)
        .output()
        .expect("bpfq runs");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn text_and_number_functions_over_a_live_process() {
    let _kernel = shared_kernel();
    let name = unique_name("fnx");
    let sleeper = Named::spawn(&name);
    let pid = sleeper.pid();
    let query = format!(
        "from task select upper(comm) as a, length(comm) as b, substr(comm, 2, 3) as c, \
         comm || \"/\" || pid as d, hex(pid) as e, format_bytes(1536) as f, \
         format_duration(90000000000) as g where pid == {pid}"
    );
    let (header, rows) = query_csv(&query, &[]);
    assert_eq!(header.len(), 7, "{header:?}");
    assert_eq!(
        rows,
        vec![vec![
            name.to_uppercase(),
            name.len().to_string(),
            name[1..4].to_string(),
            format!("{name}/{pid}"),
            format!("{pid:#x}"),
            "1.5K".to_string(),
            "1m30s".to_string(),
        ]]
    );
}

#[test]
fn a_user_space_condition_keeps_exactly_its_rows() {
    let _kernel = shared_kernel();
    let name = unique_name("fnw");
    let sleeper = Named::spawn(&name);
    let query = format!(
        "from task select pid where pid > 1 and upper(comm) == \"{}\"",
        name.to_uppercase()
    );
    let (_, rows) = query_csv(&query, &[]);
    assert_eq!(rows, vec![vec![sleeper.pid().to_string()]]);
}

#[test]
fn coalesce_chooses_where_a_kernel_thread_has_no_rss() {
    let _kernel = shared_kernel();
    let (_, rows) = query_csv(
        r#"from task select rss, coalesce(rss, 7) where comm == "kthreadd""#,
        &[],
    );
    assert_eq!(rows, vec![vec![String::new(), "7".to_string()]]);
}

/// Seconds since the epoch of an RFC 3339 UTC text `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
fn rfc3339_seconds(text: &str) -> i64 {
    let text = text.strip_suffix('Z').expect("UTC");
    let (date, time) = text.split_once('T').expect("T");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().expect("date")).collect();
    let t: Vec<i64> = time
        .split(['.', ':'])
        .map(|p| p.parse().expect("time"))
        .collect();
    assert_eq!(time.split('.').nth(1).map(str::len), Some(9), "{text}");
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + t[0] * 3_600 + t[1] * 60 + t[2]
}

/// `seconds` since the epoch as `YYYY-MM-DD HH:MM:SS` at `offset` seconds east of UTC.
fn civil(seconds: i64, offset: i64) -> String {
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", seconds + offset),
            "+%Y-%m-%d %H:%M:%S",
        ])
        .output()
        .expect("date runs");
    stdout(&out).trim().to_string()
}

#[test]
fn started_is_boot_time_plus_start_and_age_is_now_minus_started() {
    let _kernel = shared_kernel();
    let sleeper = Named::spawn(&unique_name("fnt"));
    let pid = sleeper.pid();
    let query = format!("from task select started, age where tid == {pid}");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let json = bpfq_ok(&[&query, "-o", "jsonl"]);
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    // {"started":"...Z","age":N}
    let started = json.split('"').nth(3).expect("started").to_string();
    let age: i64 = json
        .trim()
        .trim_end_matches('}')
        .rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("age in {json}"));
    // /proc: btime (whole seconds) plus starttime in clock ticks (100 a second).
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .expect("btime");
    let ticks: i64 = proc_stat_field(pid, 22).parse().expect("starttime");
    let from_proc = btime + ticks / 100;
    let shown = rfc3339_seconds(&started);
    // btime is cut to whole seconds and starttime to ticks: at most a second apart.
    assert!(
        (shown - from_proc).abs() <= 1,
        "started {started} vs /proc {from_proc}"
    );
    // age = the query's now - started, both read between `before` and `after`.
    let started_ns = shown * 1_000_000_000;
    assert!(
        age >= 0 && age <= after - started_ns + 1_000_000_000,
        "age {age}"
    );
    assert!(age >= before - started_ns - 1_000_000_000, "age {age}");
    // People read local time: the zone of TZ, to the second.
    for (zone, offset) in [("UTC", 0), ("Asia/Tokyo", 9 * 3_600)] {
        let csv = bpfq_in_zone(zone, &[&query, "-o", "csv", "--no-header"]);
        let local = csv.split(',').next().expect("started").to_string();
        // Each run reads the boot time anew: a second boundary may fall between two reads.
        let near = [shown - 1, shown, shown + 1].map(|s| civil(s, offset));
        assert!(near.contains(&local), "{zone}: {local} vs {started}");
    }
}
