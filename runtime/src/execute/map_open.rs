//! Stage `load`, map-element queries: reopens the map the compiler was given the shape of, for
//! the link, or (`walk_rows`) to read its elements from user space where the plan says the
//! kernel refuses map-element programs. Guarantees: the map opened is the one compiled for (by
//! id when the lookup gave one) and still has the key and value sizes the program's reads were
//! checked against.

use std::os::fd::OwnedFd;

use bpfq_compiler::bind::{IterParams, MapParam};
use bpfq_compiler::maps::{MapLookupError, MapRef};
use bpfq_compiler::pipeline::Compiled;

use super::RunError;
use crate::map_walk::MapWalkRows;

/// An fd of the map of `param`, to pass in the link info.
pub fn open_for_link(param: &MapParam) -> Result<OwnedFd, RunError> {
    let by_id = MapRef::Id(param.shape.id);
    let map = if param.shape.id != 0 {
        &by_id
    } else {
        &param.map
    };
    let (fd, info) = crate::maps::open_map(map).map_err(|err| {
        RunError::Failed(match err {
            MapLookupError::NotFound { .. } => format!("{} went away", param.map),
            MapLookupError::Failed(why) => format!("cannot open {}: {why}", param.map),
        })
    })?;
    let shape = &param.shape;
    if (info.map_type, info.key_size, info.value_size)
        != (shape.map_type, shape.key_size, shape.value_size)
    {
        return Err(RunError::Failed(format!(
            "{} changed while the query was compiled (now key {} B, value {} B)",
            param.map, info.key_size, info.value_size
        )));
    }
    Ok(fd)
}

/// The rows of `compiled`, a query whose plan reads its map from user space (the kernel refuses
/// map-element programs): the map reopened as for a link, then walked element by element.
pub fn walk_rows(compiled: &Compiled) -> Result<MapWalkRows<'_>, RunError> {
    let Some(IterParams::Map(param)) = &compiled.plan.iter_params else {
        return Err(RunError::Failed(
            "a map walk without a map (this is a bug in bpfq)".into(),
        ));
    };
    let fd = open_for_link(param)?;
    MapWalkRows::new(fd, &compiled.plan, &compiled.plan.layout).map_err(RunError::Failed)
}
