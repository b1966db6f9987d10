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
pub fn row_transport(name: &str) -> RowTransport {
    match name {
        "unix" => RowTransport::RingBuf,
        _ => RowTransport::Seq,
    }
}

impl RowTransport {
    /// One line for `bpfq explain`.
    pub fn describe(self) -> &'static str {
        match self {
            RowTransport::Seq => "seq_file (bpf_seq_write, read(2) of the iterator)",
            RowTransport::RingBuf => {
                "ring buffer map (bpf_ringbuf_output; the seq_file reader of this target \
                 skips the rest of a hash bucket at every read(2) boundary)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unix_needs_the_ring_buffer() {
        assert_eq!(row_transport("unix"), RowTransport::RingBuf);
        for other in ["task", "tcp", "udp", "netlink", "ksym", "unixx"] {
            assert_eq!(row_transport(other), RowTransport::Seq, "{other}");
        }
    }
}
