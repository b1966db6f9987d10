//! C-like type rendering for listings and diagnostics: "struct task_struct *", "char[16]", "const char *"; never fails (unreadable parts render as "?").

use crate::btf::{Btf, BtfType, TypeId};

/// Deepest type chain rendered before giving up with "?" (guards against loops in malformed BTF).
const MAX_DEPTH: usize = 32;

/// Renders `id` the way C would spell the type (type tags such as `__rcu` are left out).
pub fn type_name(btf: &Btf, id: TypeId) -> String {
    render(btf, id, MAX_DEPTH)
}

fn render(btf: &Btf, id: TypeId, depth: usize) -> String {
    if depth == 0 {
        return "?".to_string();
    }
    let Ok(ty) = btf.get(id) else {
        return "?".to_string();
    };
    let tagged = |keyword: &str, name: Option<&str>| match name {
        Some(name) => format!("{keyword} {name}"),
        None => format!("{keyword} (anon)"),
    };
    match ty {
        BtfType::Void => "void".to_string(),
        BtfType::Int { name, .. }
        | BtfType::Typedef { name, .. }
        | BtfType::Float { name, .. }
        | BtfType::Func { name, .. }
        | BtfType::Var { name, .. }
        | BtfType::Datasec { name, .. } => name.to_string(),
        BtfType::Struct { name, .. } => tagged("struct", name),
        BtfType::Union { name, .. } => tagged("union", name),
        BtfType::Enum { name, .. } => tagged("enum", name),
        BtfType::Fwd { name, is_union } => {
            tagged(if is_union { "union" } else { "struct" }, Some(name))
        }
        BtfType::Const { target } => qualified(btf, "const", target, depth),
        BtfType::Volatile { target } => qualified(btf, "volatile", target, depth),
        BtfType::Restrict { target } => qualified(btf, "restrict", target, depth),
        BtfType::TypeTag { target, .. } | BtfType::DeclTag { target, .. } => {
            render(btf, target, depth - 1)
        }
        BtfType::Ptr { target } => pointer(btf, target, depth),
        BtfType::Array { .. } => array(btf, id, depth),
        BtfType::FuncProto { ret, params } => {
            format!(
                "{} ({})",
                render(btf, ret, depth - 1),
                parameters(btf, &params, depth)
            )
        }
    }
}

/// `const char` for qualified values, `char * const` for qualified pointers (as C reads).
fn qualified(btf: &Btf, keyword: &str, target: TypeId, depth: usize) -> String {
    let inner = render(btf, target, depth - 1);
    if inner.ends_with('*') {
        format!("{inner} {keyword}")
    } else {
        format!("{keyword} {inner}")
    }
}

fn pointer(btf: &Btf, target: TypeId, depth: usize) -> String {
    let skipped = skip_tags(btf, target);
    match btf.get(skipped) {
        Ok(BtfType::FuncProto { ret, params }) => {
            format!(
                "{} (*)({})",
                render(btf, ret, depth - 1),
                parameters(btf, &params, depth)
            )
        }
        _ => {
            let inner = render(btf, target, depth - 1);
            if inner.ends_with('*') {
                format!("{inner}*")
            } else {
                format!("{inner} *")
            }
        }
    }
}

fn skip_tags(btf: &Btf, mut id: TypeId) -> TypeId {
    for _ in 0..MAX_DEPTH {
        match btf.get(id) {
            Ok(BtfType::TypeTag { target, .. }) => id = target,
            _ => break,
        }
    }
    id
}

/// Nested arrays render with all dimensions after the element: `int[2][3]`.
fn array(btf: &Btf, id: TypeId, depth: usize) -> String {
    let mut dimensions = String::new();
    let mut current = id;
    for _ in 0..depth {
        match btf.get(current) {
            Ok(BtfType::Array { elem, len, .. }) => {
                dimensions.push_str(&format!("[{len}]"));
                current = elem;
            }
            _ => return format!("{}{dimensions}", render(btf, current, depth - 1)),
        }
    }
    "?".to_string()
}

fn parameters(btf: &Btf, params: &[(&str, TypeId)], depth: usize) -> String {
    let rendered: Vec<String> = params
        .iter()
        .map(|&(_, param)| {
            if param.0 == 0 {
                "...".to_string()
            } else {
                render(btf, param, depth - 1)
            }
        })
        .collect();
    if rendered.is_empty() {
        "void".to_string()
    } else {
        rendered.join(", ")
    }
}
