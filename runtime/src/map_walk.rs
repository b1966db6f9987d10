//! Stage `read` of a `bpf_map_elem` query whose plan reads the map from user space (the kernel
//! refuses map-element programs): the map's elements, walked with BPF_MAP_GET_NEXT_KEY and read
//! with BPF_MAP_LOOKUP_ELEM, become rows through the compiler's `map_walk_eval::Evaluator`.
//! Guarantees: the rows are in the plan's `RowLayout` (what the program would have written);
//! the map read is the one compiled for, with the type and sizes the query was checked against
//! (else an error, before any row); an element deleted between the two calls is skipped; the
//! map's fd is closed when the source is dropped.

use std::io;
use std::ops::ControlFlow;
use std::os::fd::OwnedFd;

use bpfq_compiler::layout::RowLayout;
use bpfq_compiler::map_walk::{MapWalk, RowsFrom};
use bpfq_compiler::map_walk_eval::{Element, Evaluator};
use bpfq_compiler::maps::MapShape;
use bpfq_compiler::plan::Plan;

use crate::reader::ReadError;
use crate::row_source::RowSource;
use crate::sys::MapElements;

/// Rows handed over per run.
const RUN_ROWS: usize = 64;

/// The rows of one walk of the map.
pub struct MapWalkRows<'a> {
    elements: MapElements,
    evaluator: Evaluator<'a>,
}

impl<'a> MapWalkRows<'a> {
    /// A walk of `map` (an fd of the map `plan` names) computing `plan`'s rows in `layout`. An
    /// error when `plan` reads no map walk, or the map is not the shape it was compiled for.
    pub fn new(map: OwnedFd, plan: &'a Plan, layout: &'a RowLayout) -> Result<Self, String> {
        let RowsFrom::MapWalk(walk) = &plan.rows_from else {
            return Err("this query's rows come from a program, not a map walk".into());
        };
        let cpus = crate::maps::possible_cpus()
            .map_err(|e| format!("cannot count the possible CPUs: {e}"))?;
        let elements =
            MapElements::new(map, cpus).map_err(|e| format!("cannot read the map: {e}"))?;
        let shape = current_shape(walk, &elements)?;
        let evaluator = Evaluator::new(plan, walk, layout, &shape);
        Ok(MapWalkRows {
            elements,
            evaluator,
        })
    }
}

/// The map's shape now, checked against the one the query was compiled for.
fn current_shape(walk: &MapWalk, elements: &MapElements) -> Result<MapShape, String> {
    let info = elements.info();
    let compiled = &walk.map.shape;
    if (info.map_type, info.key_size, info.value_size)
        != (compiled.map_type, compiled.key_size, compiled.value_size)
    {
        return Err(format!(
            "{} changed while the query was compiled (now key {} B, value {} B)",
            walk.map.map, info.key_size, info.value_size
        ));
    }
    Ok(MapShape {
        map_type: info.map_type,
        key_size: info.key_size,
        value_size: info.value_size,
        name: info.name.clone(),
        id: info.id,
        possible_cpus: compiled.possible_cpus,
    })
}

impl RowSource for MapWalkRows<'_> {
    fn read_runs(
        &mut self,
        row_size: usize,
        mut on_run: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        if row_size == 0 {
            return Err(ReadError::ZeroRowSize);
        }
        let mut run = Vec::with_capacity(row_size * RUN_ROWS);
        let mut row = vec![0u8; row_size];
        let evaluator = &self.evaluator;
        self.elements
            .each(|key, value| {
                let passed = evaluator
                    .row(&Element { key, value }, &mut row)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                if passed {
                    run.extend_from_slice(&row);
                    if run.len() >= row_size * RUN_ROWS {
                        if on_run(&run).is_break() {
                            run.clear();
                            return Ok(ControlFlow::Break(()));
                        }
                        run.clear();
                    }
                }
                Ok(ControlFlow::Continue(()))
            })
            .map_err(ReadError::Io)?;
        if !run.is_empty() {
            let _ = on_run(&run);
        }
        Ok(())
    }
}
