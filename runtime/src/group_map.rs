//! Stage `read` for kernel-grouped queries: the groups a program accumulated in its BPF hash map
//! (`group_place::KernelGrouping`), moved out of the map (in batches where the kernel has them)
//! into the user-space `Grouper`, so the map is empty for the next walk.
//! Guarantees: each map element becomes exactly the group state the `Grouper` would have built
//! from that group's rows (same key values, same NULLs, exact sums), so `having`, sort, limit and
//! formatting cannot tell the two paths apart.

use std::io;

use bpfq_compiler::bind::AggFunc;
use bpfq_compiler::group_place::{AggSlots, KernelGrouping};
use bpfq_compiler::layout::RowLayout;

use crate::decode::decode_row;
use crate::group::{Grouper, Partial};
use crate::sys::{BatchPosition, HashMapFd};

/// Moves every group of `map` into `grouper`, leaving the map empty; returns how many
/// elements the map held.
pub fn take_groups(
    map: &HashMapFd,
    kernel: &KernelGrouping,
    layout: &RowLayout,
    grouper: &mut Grouper<'_>,
) -> io::Result<usize> {
    let mut count = 0;
    drain(map, kernel, |key, value| {
        let row = key_row(kernel, layout, key);
        let partials = kernel
            .aggregates
            .iter()
            .map(|slots| partial(slots, value, &row, layout))
            .collect();
        grouper.add_partial(&row, partials);
        count += 1;
    })?;
    Ok(count)
}

/// Empties `map` of what an unfinished earlier run may have left (one lookup when it is empty).
pub fn empty_map(map: &HashMapFd, kernel: &KernelGrouping) -> io::Result<()> {
    let mut first = vec![0u8; kernel.key_size as usize];
    if !map.next_key(None, &mut first)? {
        return Ok(());
    }
    drain(map, kernel, |_, _| {})
}

/// Removes every element of `map`, handing each key and value to `take`: in batches
/// (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`, one system call for hundreds of groups), else, where the
/// kernel has no batch operations for hash maps, key by key.
fn drain(
    map: &HashMapFd,
    kernel: &KernelGrouping,
    mut take: impl FnMut(&[u8], &[u8]),
) -> io::Result<()> {
    match drain_in_batches(map, kernel, &mut take) {
        Err(err) if batches_unsupported(&err) => drain_by_key(map, kernel, &mut take),
        drained => drained,
    }
}

/// The errors of a kernel without batch operations for the map (`ENOTSUPP` is 524).
fn batches_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(524)
    )
}

/// Elements per batch at first; a hash bucket holding more makes the buffers grow.
const FIRST_BATCH: usize = 256;

fn drain_in_batches(
    map: &HashMapFd,
    kernel: &KernelGrouping,
    take: &mut impl FnMut(&[u8], &[u8]),
) -> io::Result<()> {
    let (key_size, value_size) = (kernel.key_size as usize, kernel.value_size as usize);
    let mut room = FIRST_BATCH;
    let mut keys = vec![0u8; room * key_size];
    let mut values = vec![0u8; room * value_size];
    let mut position = BatchPosition::default();
    loop {
        match map.take_batch(&mut position, &mut keys, &mut values) {
            Ok(taken) => {
                let pairs = keys
                    .chunks_exact(key_size)
                    .zip(values.chunks_exact(value_size));
                for (key, value) in pairs.take(taken.count) {
                    take(key, value);
                }
                if taken.done {
                    return Ok(());
                }
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOSPC) && room < 1 << 20 => {
                room *= 2;
                keys.resize(room * key_size, 0);
                values.resize(room * value_size, 0);
            }
            Err(err) => return Err(err),
        }
    }
}

fn drain_by_key(
    map: &HashMapFd,
    kernel: &KernelGrouping,
    take: &mut impl FnMut(&[u8], &[u8]),
) -> io::Result<()> {
    let mut key = vec![0u8; kernel.key_size as usize];
    let mut next = vec![0u8; kernel.key_size as usize];
    let mut value = vec![0u8; kernel.value_size as usize];
    let mut more = map.next_key(None, &mut key)?;
    while more {
        // The next key is found before this one is deleted: a deleted key would restart the
        // walk at the map's first bucket.
        more = map.next_key(Some(&key), &mut next)?;
        if map.lookup(&key, &mut value)? {
            take(&key, &value);
        }
        map.delete(&key)?;
        std::mem::swap(&mut key, &mut next);
    }
    Ok(())
}

/// A row of the kernel layout holding only the key columns (and their NULL flags) of `key`.
fn key_row(kernel: &KernelGrouping, layout: &RowLayout, key: &[u8]) -> Vec<u8> {
    let mut row = vec![0u8; layout.size as usize];
    for part in &kernel.key_parts {
        let (from, to) = (part.key_offset as usize, part.row_offset as usize);
        let len = part.len as usize;
        if let (Some(src), Some(dst)) = (key.get(from..from + len), row.get_mut(to..to + len)) {
            dst.copy_from_slice(src);
        }
    }
    for flag in &kernel.key_flags {
        if let (Some(&src), Some(dst)) = (
            key.get(flag.key_offset as usize),
            row.get_mut(flag.row_offset as usize),
        ) {
            *dst = src;
        }
    }
    row
}

fn slot(value: &[u8], index: u32) -> u64 {
    let start = 8 * index as usize;
    value
        .get(start..start + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn partial(slots: &AggSlots, value: &[u8], key_row: &[u8], layout: &RowLayout) -> Partial {
    let count = slot(value, slots.first);
    let first = slot(value, slots.first + 1);
    match slots.func {
        AggFunc::Count => Partial::Count(count),
        AggFunc::Sum => Partial::Sum { bits: first, count },
        AggFunc::Avg => {
            let high = slot(value, slots.first + 2);
            let sum = (i128::from(high as i64) << 64) | i128::from(first);
            Partial::Avg { sum, count }
        }
        AggFunc::Min | AggFunc::Max => {
            let Some(arg) = slots.arg.as_ref().filter(|_| count > 0) else {
                return Partial::Best(None);
            };
            // Decode the best value as the argument column itself: same kind, same view.
            let mut row = key_row.to_vec();
            let start = arg.offset as usize;
            let bytes = first.to_le_bytes();
            if let Some(dst) = row.get_mut(start..start + usize::from(arg.bytes)) {
                dst.copy_from_slice(&bytes[..usize::from(arg.bytes)]);
            }
            if let Some(flag) = arg.null_flag.and_then(|f| row.get_mut(f as usize)) {
                *flag = 0;
            }
            Partial::Best(decode_row(layout, &row).into_iter().nth(arg.column))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_128_bit_sum_is_rebuilt_from_its_two_words() {
        let slots = AggSlots {
            func: AggFunc::Avg,
            first: 0,
            arg: None,
        };
        // -3 as a 128-bit sum: low word all ones but 2, high word all ones.
        let mut value = Vec::new();
        for word in [2u64, (-3i64) as u64, u64::MAX] {
            value.extend_from_slice(&word.to_le_bytes());
        }
        assert_eq!(
            partial(&slots, &value, &[], &RowLayout::default()),
            Partial::Avg { sum: -3, count: 2 }
        );
        // 2^64 + 5: the low word wrapped once.
        let mut value = Vec::new();
        for word in [1u64, 5, 1] {
            value.extend_from_slice(&word.to_le_bytes());
        }
        assert_eq!(
            partial(&slots, &value, &[], &RowLayout::default()),
            Partial::Avg {
                sum: (1i128 << 64) + 5,
                count: 1
            }
        );
    }
}
