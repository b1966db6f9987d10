//! Iterator catalogue: how a target's rows must travel from the program to user space.
//! Guarantees: a target whose seq_file output is known to lose objects gets the ring buffer
//! (`TargetFacts::transport`).

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
