//! Decode correctness: every type of a BTF blob, rendered in `bpftool btf dump format raw` style, must equal bpftool's own output.

use crate::common;

use std::process::Command;

use bpfq_kernel::{Btf, BtfType, Kind, TypeId};

fn quoted(name: &str) -> String {
    if name.is_empty() {
        "'(anon)'".to_string()
    } else {
        format!("'{name}'")
    }
}

fn int_encoding(signed: bool, is_char: bool, is_bool: bool) -> &'static str {
    match (signed, is_char, is_bool) {
        (false, false, false) => "(none)",
        (true, false, false) => "SIGNED",
        (false, true, false) => "CHAR",
        (false, false, true) => "BOOL",
        _ => "UNKN",
    }
}

fn linkage(linkage: u32) -> &'static str {
    match linkage {
        0 => "static",
        1 => "global",
        2 => "extern",
        _ => "(unknown)",
    }
}

/// Our reader's view of one type, in bpftool's raw format (DATASEC entries are not decoded by us and left out).
fn render(btf: &Btf, id: TypeId) -> Vec<String> {
    let ty = btf.get(id).unwrap_or_else(|error| panic!("{id}: {error}"));
    let n = id.0;
    let name = |name: Option<&str>| quoted(name.unwrap_or(""));
    let mut lines = Vec::new();
    match ty {
        BtfType::Void => unreachable!("id 0 is not listed"),
        BtfType::Int {
            name,
            size,
            bits,
            bit_offset,
            signed,
            is_char,
            is_bool,
        } => lines.push(format!(
            "[{n}] INT {} size={size} bits_offset={bit_offset} nr_bits={bits} encoding={}",
            quoted(name),
            int_encoding(signed, is_char, is_bool)
        )),
        BtfType::Ptr { target } => lines.push(format!("[{n}] PTR '(anon)' type_id={}", target.0)),
        BtfType::Array { elem, index, len } => lines.push(format!(
            "[{n}] ARRAY '(anon)' type_id={} index_type_id={} nr_elems={len}",
            elem.0, index.0
        )),
        BtfType::Struct {
            name: struct_name,
            size,
            vlen,
        }
        | BtfType::Union {
            name: struct_name,
            size,
            vlen,
        } => {
            let kind = if btf.kind_of(id).unwrap() == Some(Kind::Struct) {
                "STRUCT"
            } else {
                "UNION"
            };
            lines.push(format!(
                "[{n}] {kind} {} size={size} vlen={vlen}",
                name(struct_name)
            ));
            for member in btf.raw_members(id).unwrap() {
                let mut line = format!(
                    "\t{} type_id={} bits_offset={}",
                    quoted(member.name),
                    member.type_id.0,
                    member.bit_offset
                );
                if let Some(bits) = member.bitfield_size {
                    line.push_str(&format!(" bitfield_size={bits}"));
                }
                lines.push(line);
            }
        }
        BtfType::Enum {
            name: enum_name,
            size,
            signed,
            values,
        } => {
            let is64 = btf.kind_of(id).unwrap() == Some(Kind::Enum64);
            let kind = if is64 { "ENUM64" } else { "ENUM" };
            let encoding = if signed { "SIGNED" } else { "UNSIGNED" };
            lines.push(format!(
                "[{n}] {kind} {} encoding={encoding} size={size} vlen={}",
                name(enum_name),
                values.len()
            ));
            for (value_name, value) in values {
                let shown = match (is64, signed) {
                    (true, true) => format!("{value}LL"),
                    (true, false) => format!("{}ULL", value as u64),
                    (false, _) => value.to_string(),
                };
                lines.push(format!("\t{} val={shown}", quoted(value_name)));
            }
        }
        BtfType::Fwd { name, is_union } => lines.push(format!(
            "[{n}] FWD {} fwd_kind={}",
            quoted(name),
            if is_union { "union" } else { "struct" }
        )),
        BtfType::Typedef { name, target } => lines.push(format!(
            "[{n}] TYPEDEF {} type_id={}",
            quoted(name),
            target.0
        )),
        BtfType::Volatile { target } => {
            lines.push(format!("[{n}] VOLATILE '(anon)' type_id={}", target.0))
        }
        BtfType::Const { target } => {
            lines.push(format!("[{n}] CONST '(anon)' type_id={}", target.0))
        }
        BtfType::Restrict { target } => {
            lines.push(format!("[{n}] RESTRICT '(anon)' type_id={}", target.0))
        }
        BtfType::TypeTag { name, target } => lines.push(format!(
            "[{n}] TYPE_TAG {} type_id={}",
            quoted(name),
            target.0
        )),
        BtfType::DeclTag {
            name,
            target,
            component_idx,
        } => lines.push(format!(
            "[{n}] DECL_TAG {} type_id={} component_idx={component_idx}",
            quoted(name),
            target.0
        )),
        BtfType::Func {
            name,
            proto,
            linkage: value,
        } => lines.push(format!(
            "[{n}] FUNC {} type_id={} linkage={}",
            quoted(name),
            proto.0,
            linkage(value)
        )),
        BtfType::FuncProto { ret, params } => {
            lines.push(format!(
                "[{n}] FUNC_PROTO '(anon)' ret_type_id={} vlen={}",
                ret.0,
                params.len()
            ));
            for (param_name, param) in params {
                lines.push(format!("\t{} type_id={}", quoted(param_name), param.0));
            }
        }
        BtfType::Var {
            name,
            target,
            linkage: value,
        } => lines.push(format!(
            "[{n}] VAR {} type_id={}, linkage={}",
            quoted(name),
            target.0,
            linkage(value)
        )),
        BtfType::Datasec { name, size } => {
            lines.push(format!("[{n}] DATASEC {} size={size}", quoted(name)))
        }
        BtfType::Float { name, size } => {
            lines.push(format!("[{n}] FLOAT {} size={size}", quoted(name)))
        }
    }
    lines
}

/// bpftool's raw dump split into one block of lines per type; DATASEC headers lose their vlen and
/// entries because our reader does not decode datasec entries.
fn bpftool_blocks(path: &std::path::Path) -> Vec<Vec<String>> {
    let output = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .args(["format", "raw"])
        .output()
        .expect("bpftool runs");
    assert!(
        output.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8 output");
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut in_datasec = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_datasec = line.contains("] DATASEC ");
            let header = if in_datasec {
                line.rsplit_once(" vlen=")
                    .map_or(line, |(head, _)| head)
                    .to_string()
            } else {
                line.to_string()
            };
            blocks.push(vec![header]);
        } else if !in_datasec {
            blocks
                .last_mut()
                .expect("member line after a type line")
                .push(line.to_string());
        }
    }
    blocks
}

struct Coverage {
    types: usize,
    composites: usize,
    with_bitfields: usize,
    with_anonymous_members: usize,
}

fn compare_all(btf: &Btf, raw_path: &std::path::Path) -> Coverage {
    let blocks = bpftool_blocks(raw_path);
    assert_eq!(
        blocks.len() as u32 + 1,
        btf.type_count(),
        "type count differs from bpftool"
    );
    let mut coverage = Coverage {
        types: 0,
        composites: 0,
        with_bitfields: 0,
        with_anonymous_members: 0,
    };
    for (index, expected) in blocks.iter().enumerate() {
        let id = TypeId(index as u32 + 1);
        let ours = render(btf, id);
        assert_eq!(&ours, expected, "type {id} differs from bpftool");
        coverage.types += 1;
        if matches!(btf.kind_of(id).unwrap(), Some(Kind::Struct | Kind::Union)) {
            coverage.composites += 1;
            let members = btf.raw_members(id).unwrap();
            coverage.with_bitfields +=
                usize::from(members.iter().any(|m| m.bitfield_size.is_some()));
            coverage.with_anonymous_members +=
                usize::from(members.iter().any(|m| m.name.is_empty()));
        }
    }
    coverage
}

#[test]
fn every_type_of_the_6_18_fixture_matches_bpftool() {
    let btf = common::fixture("6.18");
    let raw = common::raw_copy(btf, "compare-6.18");
    let coverage = compare_all(btf, &raw);
    let _ = std::fs::remove_file(&raw);
    assert!(coverage.types > 100_000, "only {} types", coverage.types);
    assert!(
        coverage.composites > 300,
        "only {} structs/unions",
        coverage.composites
    );
    assert!(
        coverage.with_bitfields > 50,
        "only {} with bitfields",
        coverage.with_bitfields
    );
    assert!(
        coverage.with_anonymous_members > 50,
        "only {} with anonymous members",
        coverage.with_anonymous_members
    );
}

#[test]
fn every_type_of_the_host_btf_matches_bpftool() {
    let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
    let btf = Btf::from_file(path).expect("host BTF readable");
    let coverage = compare_all(&btf, path);
    assert!(
        coverage.composites > 300,
        "only {} structs/unions",
        coverage.composites
    );
}
