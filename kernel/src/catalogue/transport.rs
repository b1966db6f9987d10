//! Iterator catalogue: how a target's rows must travel from the program to user space.
//! Guarantees: a target whose seq_file output is known to lose objects gets the ring buffer.

/// How the generated program hands its rows to user space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowTransport {
    /// `bpf_seq_write` into the iterator's seq buffer, read with `read(2)` in 32 KiB pieces.
    Seq,
    /// `bpf_ringbuf_output` into a BPF ring buffer map; the iterator's `read(2)` then walks every
    /// object in one call (the program writes nothing to the seq buffer) and user space reads the
    /// rows from the ring's memory mapping afterwards.
    RingBuf,
}

/// The transport for target `name`.
///
/// `unix`: the kernel's iter/unix batches one hash bucket at a time and, when a `read(2)`
/// returns in the middle of a bucket (the 32 KiB seq buffer is full), resumes at the *next*
/// bucket, so the rest of that bucket is never shown (measured on 6.18: 20,002 sockets gave
/// 16,800 rows, while /proc/net/unix listed all). With nothing written to the seq buffer, the
/// walk never stops in the middle, so every socket is shown.
///
/// `ipv6_route`: the kernel's fib6 walker starts again from the root at every `read(2)` and
/// skips the routes it has already shown, so a dump in 32 KiB reads costs quadratic time
/// (measured on 6.18 with 10,000 routes: 7 ms of kernel time in one read, 20 ms in 20) and a
/// route added or removed between reads shifts the skip count (a route shown twice or never).
/// One walk into the ring shows each route once, and beats `ip -6 route` (bench/README.md).
pub fn row_transport(name: &str) -> RowTransport {
    match name {
        "unix" | "ipv6_route" => RowTransport::RingBuf,
        _ => RowTransport::Seq,
    }
}

/// Whether target `name`'s seq output, read in pieces, misses objects even while nothing
/// changes (unix), so that it cannot be printed object by object by the kernel (`bpfq pin`).
/// ipv6_route's seq output is slow but whole on a quiet system, as /proc/net/ipv6_route is.
pub fn seq_output_loses_objects(name: &str) -> bool {
    name == "unix"
}

impl RowTransport {
    /// One line for `bpfq explain`.
    pub fn describe(self) -> &'static str {
        match self {
            RowTransport::Seq => "seq_file (bpf_seq_write, read(2) of the iterator)",
            RowTransport::RingBuf => {
                "ring buffer map (bpf_ringbuf_output; one walk of every object: the seq_file \
                 reader of this target loses or repeats objects across read(2) calls)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_ipv6_routes_use_the_ring_buffer() {
        assert_eq!(row_transport("unix"), RowTransport::RingBuf);
        assert_eq!(row_transport("ipv6_route"), RowTransport::RingBuf);
        assert!(seq_output_loses_objects("unix"));
        assert!(!seq_output_loses_objects("ipv6_route"));
        for other in ["task", "tcp", "udp", "netlink", "ksym", "unixx"] {
            assert_eq!(row_transport(other), RowTransport::Seq, "{other}");
        }
    }
}
