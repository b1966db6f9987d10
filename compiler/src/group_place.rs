//! Stage `plan`, second step: where a grouped query groups. Guarantees: the kernel groups (a BPF
//! hash map updated by the iterator program, which then writes no rows) only when user space can
//! rebuild from the map exactly what its own `Grouper` would compute from rows: every key is a
//! fixed-size value (at most `KEY_MAX` bytes with the NULL flags), every aggregate is `count`,
//! `sum`, `min`, `max` or `avg` of integers without `distinct`; anything else groups in user
//! space, with the reason.

use crate::bind::{AggFunc, Grouping};
use crate::layout::{ColumnKind, RowLayout, SEGMENT_MAX};

/// The most bytes of group key (values and NULL flags) the kernel map is keyed by.
pub const KEY_MAX: u32 = 64;
/// Entries of the first group map; a map that fills up costs one more walk with twice as many.
pub const FIRST_ENTRIES: u32 = 4096;
/// The largest group map bpfq creates.
pub const MAX_ENTRIES: u32 = 1 << 24;
/// Stack the row, the key and the accumulators may take together (the rest is for spills).
const STACK_FOR_BUFFERS: u32 = 448;

/// Where a grouped query's grouping runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupPlace {
    Kernel(KernelGrouping),
    User { reason: String },
}

/// Bytes `[row_offset, row_offset + len)` of the row, copied to `key_offset` of the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPart {
    /// The kernel column (an index into the row layout).
    pub column: usize,
    pub row_offset: u32,
    pub key_offset: u32,
    pub len: u32,
}

/// A key column's NULL flag byte, copied from the row to the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFlag {
    pub column: usize,
    pub row_offset: u32,
    pub key_offset: u32,
}

/// Where an aggregate argument is in the row and how to widen it to 64 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgInRow {
    pub column: usize,
    pub offset: u32,
    pub bytes: u8,
    pub signed: bool,
    pub null_flag: Option<u32>,
}

/// One aggregate's 8-byte slots in the map value, from `first`. Slot `first` counts the values
/// (objects for `count(*)`, non-NULL arguments otherwise); `sum`: `first + 1` is the sum
/// (wrapping); `min`/`max`: `first + 1` is the best value so far (meaningful once the count is
/// not 0); `avg`: `first + 1` and `first + 2` are the low and high words of the exact 128-bit sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggSlots {
    pub func: AggFunc,
    pub first: u32,
    pub arg: Option<ArgInRow>,
}

impl AggSlots {
    pub fn count(func: AggFunc) -> u32 {
        match func {
            AggFunc::Count => 1,
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => 2,
            AggFunc::Avg => 3,
        }
    }
}

/// The group map's shape and where each piece of it comes from in the row. The program's stack
/// buffer is the row (`row_size` bytes), then the key, then the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelGrouping {
    pub key_parts: Vec<KeyPart>,
    pub key_flags: Vec<KeyFlag>,
    /// Offset of the key in the stack buffer (the row's size).
    pub key_offset: u32,
    /// Key bytes, a multiple of 8 (at least 8: a query of aggregates alone has one all-zero key).
    pub key_size: u32,
    pub value_offset: u32,
    pub value_size: u32,
    pub aggregates: Vec<AggSlots>,
    pub first_entries: u32,
}

impl KernelGrouping {
    /// Bytes of stack buffer the program needs: row, key and value.
    pub fn buffer_size(&self) -> u32 {
        self.value_offset + self.value_size
    }
}

/// Whether an argument of this kind can be summed, compared and averaged as an integer.
fn integer_arg(kind: &ColumnKind) -> Option<(u8, bool)> {
    match kind {
        ColumnKind::Int { bytes, signed } | ColumnKind::Enum { bytes, signed, .. } => {
            Some((*bytes, *signed))
        }
        ColumnKind::Bool => Some((1, false)),
        _ => None,
    }
}

/// Decides where `grouping` runs, given the kernel row layout and the target name.
pub fn place(grouping: &Grouping, layout: &RowLayout, target: &str) -> GroupPlace {
    match kernel_grouping(grouping, layout, target) {
        Ok(kernel) => GroupPlace::Kernel(kernel),
        Err(reason) => GroupPlace::User { reason },
    }
}

fn kernel_grouping(
    grouping: &Grouping,
    layout: &RowLayout,
    target: &str,
) -> Result<KernelGrouping, String> {
    let facts = bpfq_kernel::catalogue::facts_of(target);
    if facts.repeats_last_row {
        // Only the row stream can drop the repeat.
        return Err(format!("iter/{target} repeats its last row"));
    }
    if facts.lists_own_maps {
        // The group map itself would be one of the maps counted.
        return Err(format!("iter/{target} would see bpfq's own group map"));
    }
    if layout.size > SEGMENT_MAX {
        return Err(format!("the row is wider than {SEGMENT_MAX} bytes"));
    }
    let mut key_parts = Vec::new();
    let mut key_flags = Vec::new();
    let mut next = 0u32;
    for &k in &grouping.keys {
        let column = layout
            .columns
            .get(k)
            .ok_or("a key column is missing from the row")?;
        if column.kind == ColumnKind::Float {
            return Err("a key is a float".into());
        }
        if matches!(column.kind, ColumnKind::KernfsPath { .. }) {
            // Its slots hold stale bytes past each name's NUL: equal paths, unequal keys.
            return Err("a key is a kernfs path, joined in user space".into());
        }
        if matches!(column.kind, ColumnKind::DentryPath { .. }) {
            return Err("a key is a file path from a dentry walk, joined in user space".into());
        }
        let len = column.kind.width();
        key_parts.push(KeyPart {
            column: k,
            row_offset: column.offset,
            key_offset: next,
            len,
        });
        next += len;
    }
    for &k in &grouping.keys {
        if let Some(flag) = layout.columns[k].null_flag {
            key_flags.push(KeyFlag {
                column: k,
                row_offset: flag,
                key_offset: next,
            });
            next += 1;
        }
    }
    if next > KEY_MAX {
        return Err(format!(
            "the group key takes {next} bytes; the kernel map takes up to {KEY_MAX}"
        ));
    }
    let mut aggregates = Vec::new();
    let mut slot = 0u32;
    for agg in &grouping.aggregates {
        if agg.distinct {
            return Err(format!("`{}` needs every distinct value", agg.text));
        }
        let arg = match agg.arg {
            None => None,
            Some(a) => {
                let column = layout
                    .columns
                    .get(a)
                    .ok_or("an aggregate argument is missing from the row")?;
                let (bytes, signed) = match (agg.func, integer_arg(&column.kind)) {
                    (_, Some(int)) => int,
                    // count(x) only tests NULL; a NULL pointer (value 0) counts as NULL too.
                    (AggFunc::Count, None) if column.kind != ColumnKind::KernelPointer => {
                        (1, false)
                    }
                    _ => return Err(format!("`{}` is not an aggregate of integers", agg.text)),
                };
                Some(ArgInRow {
                    column: a,
                    offset: column.offset,
                    bytes,
                    signed,
                    null_flag: column.null_flag,
                })
            }
        };
        aggregates.push(AggSlots {
            func: agg.func,
            first: slot,
            arg,
        });
        slot += AggSlots::count(agg.func);
    }
    let key_offset = layout.size;
    let key_size = next.next_multiple_of(8).max(8);
    let value_offset = key_offset + key_size;
    let value_size = (8 * slot).max(8);
    if value_offset + value_size > STACK_FOR_BUFFERS {
        return Err("the row, key and accumulators do not fit the BPF stack together".into());
    }
    Ok(KernelGrouping {
        key_parts,
        key_flags,
        key_offset,
        key_size,
        value_offset,
        value_size,
        aggregates,
        first_entries: FIRST_ENTRIES,
    })
}

impl GroupPlace {
    /// The `grouping:` line of `explain`.
    pub fn describe(&self) -> String {
        match self {
            GroupPlace::Kernel(k) => format!(
                "kernel (BPF hash map, {} entries, doubled while full; key {} bytes, value {} bytes)",
                k.first_entries, k.key_size, k.value_size
            ),
            GroupPlace::User { reason } => format!("user space ({reason})"),
        }
    }
}
