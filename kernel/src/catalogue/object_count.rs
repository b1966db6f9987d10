//! Iterator catalogue: how to read the count the kernel keeps of a ring-buffer target's objects
//! (`TargetFacts::object_count`), so the ring can be sized before the walk. Guarantees a parser never panics on odd text (`None`).

/// A count the kernel publishes per network namespace in `/proc/<pid>/net/<proc_net_file>`.
#[derive(Clone, Copy, Debug)]
pub struct ObjectCount {
    pub proc_net_file: &'static str,
    pub parse: fn(&str) -> Option<u64>,
}

/// `fib_rt_entries`, the fourth (hexadecimal) field of /proc/net/rt6_stats.
pub(super) fn routes_in_rt6_stats(text: &str) -> Option<u64> {
    u64::from_str_radix(text.split_whitespace().nth(3)?, 16).ok()
}

/// Sum of the `sockets` column of the `UNIX` and `UNIX-STREAM` lines of /proc/net/protocols.
pub(super) fn unix_sockets_in_protocols(text: &str) -> Option<u64> {
    let mut lines = text.lines();
    let column = lines
        .next()?
        .split_whitespace()
        .position(|name| name == "sockets")?;
    let counts: Vec<u64> = lines
        .filter(|line| line.starts_with("UNIX"))
        .filter_map(|line| line.split_whitespace().nth(column)?.parse().ok())
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_count_is_the_fourth_rt6_stats_field_in_hex() {
        assert_eq!(
            routes_in_rt6_stats("0011 000a 00d7 2717 0000 0007 0000\n"),
            Some(0x2717)
        );
        assert_eq!(routes_in_rt6_stats("0011 000a\n"), None);
    }

    #[test]
    fn unix_socket_count_sums_the_unix_protocol_lines() {
        let text = "protocol  size sockets  memory press maxhdr  slab module     cl co\n\
                    PACKET    1600      3      -1   NI       0   no   kernel      n  n\n\
                    UNIX-STREAM 1152   20      -1   NI       0   yes  kernel      y  n\n\
                    UNIX      1152      7      -1   NI       0   yes  kernel      y  n\n";
        assert_eq!(unix_sockets_in_protocols(text), Some(27));
        assert_eq!(unix_sockets_in_protocols("protocol size\n"), None);
    }
}
