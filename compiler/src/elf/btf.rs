//! Stage `object`, `.BTF`: the type information of the one function of a bpfq object, written
//! the way clang does for `int f(struct bpf_iter__task *ctx)`. Guarantees: a valid BTF blob
//! (header, types, strings) whose FUNC names the program symbol and whose prototype's argument
//! is a pointer to the context struct (declared as a forward, as the object needs no members).

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_FWD: u32 = 7;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
/// `BTF_FUNC_GLOBAL`, in a FUNC's vlen bits.
const LINKAGE_GLOBAL: u32 = 1;
/// `BTF_INT_SIGNED`, in an INT's encoding byte.
const INT_SIGNED: u32 = 1;

fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | vlen
}

/// BTF for `int <function>(struct <context_struct> *ctx)`.
pub fn function_btf(function: &str, context_struct: &str) -> Vec<u8> {
    let mut strings = vec![0u8];
    let mut add = |text: &str| {
        let at = strings.len() as u32;
        strings.extend_from_slice(text.as_bytes());
        strings.push(0);
        at
    };
    let struct_name = add(context_struct);
    let int_name = add("int");
    let ctx_name = add("ctx");
    let function_name = add(function);
    // Type ids count from 1, in this order.
    let words: Vec<u32> = vec![
        // [1] struct <context_struct> (forward declaration)
        struct_name,
        info(KIND_FWD, 0),
        0,
        // [2] pointer to [1]
        0,
        info(KIND_PTR, 0),
        1,
        // [3] int: 4 bytes, signed, 32 bits
        int_name,
        info(KIND_INT, 0),
        4,
        (INT_SIGNED << 24) | 32,
        // [4] int (*)([2] ctx)
        0,
        info(KIND_FUNC_PROTO, 1),
        3,
        ctx_name,
        2,
        // [5] the function, of prototype [4]
        function_name,
        info(KIND_FUNC, LINKAGE_GLOBAL),
        4,
    ];
    let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    out.extend_from_slice(&24u32.to_le_bytes()); // header length
    out.extend_from_slice(&0u32.to_le_bytes()); // type section offset
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(types.len() as u32).to_le_bytes()); // string section offset
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&types);
    out.extend_from_slice(&strings);
    out
}
