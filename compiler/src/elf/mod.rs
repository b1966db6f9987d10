//! Stage `object` (`bpfq compile -o q.o`): a text-output program as a standard ELF64
//! little-endian relocatable BPF object, the shape clang writes, so libbpf (`bpftool iter pin`)
//! and aya load it. Guarantees: sections `iter/<target>` (the instructions), `license` ("GPL"),
//! `.rodata` (the format strings, when used) with one `R_BPF_64_64` relocation per `ld_imm64`
//! of them in `.reliter/<target>`, `.BTF` (the function and its prototype, whose argument
//! points at the context struct), `.symtab`/`.strtab` with one global FUNC symbol whose size
//! is the program's, and the section symbols; no I/O.

mod btf;

use crate::bpf::asm::Program;
use crate::bpf::insn::encode;
use crate::ir::MapRef;

const EM_BPF: u16 = 247;
const ET_REL: u16 = 1;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
/// `R_BPF_64_64`: the 64-bit immediate of an `ld_imm64` takes the symbol's address.
const R_BPF_64_64: u64 = 1;
const ELF_HEADER_SIZE: usize = 64;
const SECTION_HEADER_SIZE: usize = 64;
const SYMBOL_SIZE: usize = 24;

/// What the object is made of.
pub struct ObjectSpec<'a> {
    pub program: &'a Program,
    /// The iterator target (`task`): the section is `iter/<target>`, which libbpf resolves to
    /// `bpf_iter_<target>` in the kernel's BTF.
    pub target: &'a str,
    /// The function symbol (the kernel program name, at most 15 bytes).
    pub function: &'a str,
    /// The iterator's context struct (`bpf_iter__task`), named in the function's BTF prototype.
    pub context_struct: &'a str,
}

/// Why no object could be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectError(pub String);

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One section: its name, header fields and bytes.
struct Section {
    name: String,
    kind: u32,
    flags: u64,
    link: u32,
    info: u32,
    align: u64,
    entry_size: u64,
    bytes: Vec<u8>,
}

impl Section {
    fn new(name: impl Into<String>, kind: u32, flags: u64, align: u64, bytes: Vec<u8>) -> Self {
        Section {
            name: name.into(),
            kind,
            flags,
            link: 0,
            info: 0,
            align,
            entry_size: 0,
            bytes,
        }
    }
}

/// A string table under construction (offset 0 is the empty string).
struct Strings(Vec<u8>);

impl Strings {
    fn new() -> Self {
        Strings(vec![0])
    }

    fn add(&mut self, text: &str) -> u32 {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(0);
        at
    }
}

fn symbol(name: u32, info: u8, section: u16, value: u64, size: u64) -> [u8; SYMBOL_SIZE] {
    let mut out = [0u8; SYMBOL_SIZE];
    out[0..4].copy_from_slice(&name.to_le_bytes());
    out[4] = info;
    out[5] = 0; // st_other: default visibility
    out[6..8].copy_from_slice(&section.to_le_bytes());
    out[8..16].copy_from_slice(&value.to_le_bytes());
    out[16..24].copy_from_slice(&size.to_le_bytes());
    out
}

/// The object file's bytes.
pub fn write_object(spec: &ObjectSpec<'_>) -> Result<Vec<u8>, ObjectError> {
    let program = spec.program;
    // Section indices, fixed by the order below.
    const TEXT: u16 = 1;
    const LICENSE: u16 = 2;
    const RODATA: u16 = 3;
    let has_rodata = !program.formats.is_empty();

    // The `ld_imm64`s of the format map become plain ones holding the offset in `.rodata`,
    // relocated against its section symbol: what libbpf turns into a map value reference.
    let mut insns = program.insns.clone();
    let mut relocations = Vec::new();
    for relocation in &program.relocations {
        if relocation.map != MapRef::Formats {
            return Err(ObjectError(format!(
                "{:?} cannot be written to an object file (only text-output programs can)",
                relocation.map
            )));
        }
        let offset = insns
            .get(relocation.slot + 1)
            .map(|second| second.imm)
            .ok_or_else(|| ObjectError("a map reference without its second slot".into()))?;
        insns[relocation.slot].src = 0;
        insns[relocation.slot].imm = offset;
        insns[relocation.slot + 1].imm = 0;
        relocations.push(relocation.slot);
    }
    let code = encode(&insns);

    let section_name = format!("iter/{}", spec.target);
    let mut strings = Strings::new();
    let mut sections = vec![
        Section::new(
            section_name.clone(),
            SHT_PROGBITS,
            SHF_ALLOC | SHF_EXECINSTR,
            8,
            code.clone(),
        ),
        Section::new(
            "license",
            SHT_PROGBITS,
            SHF_ALLOC | SHF_WRITE,
            1,
            b"GPL\0".to_vec(),
        ),
    ];
    if has_rodata {
        sections.push(Section::new(
            ".rodata",
            SHT_PROGBITS,
            SHF_ALLOC,
            8,
            program.formats.clone(),
        ));
    }

    // Symbols: the null symbol, the section symbols (local), then the function (global).
    let mut symbols: Vec<[u8; SYMBOL_SIZE]> = vec![[0; SYMBOL_SIZE]];
    symbols.push(symbol(0, (STB_LOCAL << 4) | STT_SECTION, TEXT, 0, 0));
    let rodata_symbol = if has_rodata {
        symbols.push(symbol(0, (STB_LOCAL << 4) | STT_SECTION, RODATA, 0, 0));
        Some(symbols.len() as u64 - 1)
    } else {
        None
    };
    let first_global = symbols.len() as u32;
    let function_name = strings.add(spec.function);
    symbols.push(symbol(
        function_name,
        (STB_GLOBAL << 4) | STT_FUNC,
        TEXT,
        0,
        code.len() as u64,
    ));
    let license_name = strings.add("_license");
    symbols.push(symbol(
        license_name,
        (STB_GLOBAL << 4) | STT_OBJECT,
        LICENSE,
        0,
        4,
    ));

    let symtab_index = sections.len() as u32 + 1;
    let strtab_index = symtab_index + 1;
    let mut symtab = Section::new(".symtab", SHT_SYMTAB, 0, 8, symbols.concat());
    symtab.link = strtab_index;
    symtab.info = first_global;
    symtab.entry_size = SYMBOL_SIZE as u64;
    sections.push(symtab);
    // Filled last: section names are added below.
    sections.push(Section::new(".strtab", SHT_STRTAB, 0, 1, Vec::new()));
    if let Some(rodata_symbol) = rodata_symbol {
        let mut bytes = Vec::new();
        for slot in &relocations {
            bytes.extend_from_slice(&((*slot as u64) * 8).to_le_bytes());
            bytes.extend_from_slice(&((rodata_symbol << 32) | R_BPF_64_64).to_le_bytes());
        }
        let mut rel = Section::new(format!(".rel{section_name}"), SHT_REL, 0, 8, bytes);
        rel.link = symtab_index;
        rel.info = u32::from(TEXT);
        rel.entry_size = 16;
        sections.push(rel);
    }
    sections.push(Section::new(
        ".BTF",
        SHT_PROGBITS,
        0,
        4,
        btf::function_btf(spec.function, spec.context_struct),
    ));

    let names: Vec<u32> = sections.iter().map(|s| strings.add(&s.name)).collect();
    let strtab_position = strtab_index as usize - 1;
    sections[strtab_position].bytes = std::mem::take(&mut strings.0);

    // Layout: header, each section's bytes (aligned), then the section headers.
    let mut out = vec![0u8; ELF_HEADER_SIZE];
    let mut offsets = Vec::new();
    for section in &sections {
        while !(out.len() as u64).is_multiple_of(section.align.max(1)) {
            out.push(0);
        }
        offsets.push(out.len() as u64);
        out.extend_from_slice(&section.bytes);
    }
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let headers_at = out.len() as u64;
    out.extend_from_slice(&[0u8; SECTION_HEADER_SIZE]);
    for ((section, offset), name) in sections.iter().zip(&offsets).zip(&names) {
        let mut header = [0u8; SECTION_HEADER_SIZE];
        header[0..4].copy_from_slice(&name.to_le_bytes());
        header[4..8].copy_from_slice(&section.kind.to_le_bytes());
        header[8..16].copy_from_slice(&section.flags.to_le_bytes());
        // sh_addr stays 0 in a relocatable object.
        header[24..32].copy_from_slice(&offset.to_le_bytes());
        header[32..40].copy_from_slice(&(section.bytes.len() as u64).to_le_bytes());
        header[40..44].copy_from_slice(&section.link.to_le_bytes());
        header[44..48].copy_from_slice(&section.info.to_le_bytes());
        header[48..56].copy_from_slice(&section.align.to_le_bytes());
        header[56..64].copy_from_slice(&section.entry_size.to_le_bytes());
        out.extend_from_slice(&header);
    }

    let section_count = sections.len() as u16 + 1;
    let header = &mut out[..ELF_HEADER_SIZE];
    header[0..4].copy_from_slice(b"\x7fELF");
    header[4] = 2; // ELFCLASS64
    header[5] = 1; // ELFDATA2LSB
    header[6] = 1; // EV_CURRENT
    header[16..18].copy_from_slice(&ET_REL.to_le_bytes());
    header[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
    header[20..24].copy_from_slice(&1u32.to_le_bytes());
    header[40..48].copy_from_slice(&headers_at.to_le_bytes());
    header[52..54].copy_from_slice(&(ELF_HEADER_SIZE as u16).to_le_bytes());
    header[58..60].copy_from_slice(&(SECTION_HEADER_SIZE as u16).to_le_bytes());
    header[60..62].copy_from_slice(&section_count.to_le_bytes());
    header[62..64].copy_from_slice(&(strtab_index as u16).to_le_bytes());
    Ok(out)
}
