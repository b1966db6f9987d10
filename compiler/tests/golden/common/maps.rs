//! Maps of known shapes that the compile-only tests give the compiler instead of the host's,
//! and a compile with `map_elem_programs` set by hand (as the probe would find it).

use bpfq_compiler::diagnostic::Sources;
use bpfq_compiler::maps::{MapLookup, MapLookupError, MapRef, MapShape};
use bpfq_compiler::pipeline::{Compiled, Compiler, Input, Options};
use bpfq_compiler::stdlib::Stdlib;
use bpfq_kernel::{Btf, KernelFeatures, Why};

/// The shape of the map `name`: its type, key and value sizes; id 42, 4 possible CPUs.
pub fn shape(map_type: u32, key_size: u32, value_size: u32, name: &str) -> MapShape {
    MapShape {
        map_type,
        key_size,
        value_size,
        name: name.to_string(),
        id: 42,
        possible_cpus: 4,
    }
}

/// Maps looked up by name only: (name, map type, key size, value size).
pub struct Maps(pub &'static [(&'static str, u32, u32, u32)]);

impl MapLookup for Maps {
    fn lookup(&self, map: &MapRef) -> Result<MapShape, MapLookupError> {
        let MapRef::Name(name) = map else {
            return Err(MapLookupError::Failed("by name only".into()));
        };
        self.0
            .iter()
            .find(|(known, ..)| known == name)
            .map(|&(_, map_type, key, value)| shape(map_type, key, value, name))
            .ok_or(MapLookupError::NotFound { near: vec![] })
    }
}

/// `query` compiled with `maps` (binary rows, or text with `text`) for a kernel that allows
/// map-element programs or not; the diagnostic rendered on failure.
pub fn compiled_as(
    btf: &Btf,
    maps: &dyn MapLookup,
    query: &str,
    map_elem_programs: bool,
    text: bool,
) -> Result<Compiled, String> {
    let mut sources = Sources::new();
    let file = sources.add("<query>", query);
    let stdlib = Stdlib::load(&mut sources, &[]).expect("stdlib parses");
    let mut features = KernelFeatures::from_btf(btf).expect("features of the BTF");
    features.map_elem_programs = map_elem_programs;
    features.why.map_elem_programs = Why::Given("the test");
    let env = Compiler::new(btf, &features, &stdlib, &sources).with_maps(maps);
    let options = if text {
        Options::text()
    } else {
        Options::default()
    };
    env.compile_single(Input::File(file), options)
        .map_err(|diag| diag.render(&sources))
}
