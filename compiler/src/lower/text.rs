//! Stage `lower`, text output (`bpfq pin`, `bpfq compile`): the row built on the stack is
//! printed in the kernel with `bpf_seq_printf`, one call per value, instead of written as bytes.
//! Guarantees: the output is the `-o tsv` text of the row (header line first, on the first
//! object; NULL as `-`) except where the kernel cannot format like user space (see
//! `TEXT_DIFFERENCES`); every format string lives in the read-only `MapRef::Formats` table;
//! a query whose result needs user space (sort, limit, grouping) is refused with E0303.

use super::{internal, Lowerer};
use crate::address::{AF_INET, AF_INET6};
use crate::bind::OutputColumn;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::ir::{BinOp, Block, Cmp, Inst, Operand, PrintfArg, Terminator, Width};
use crate::layout::{ColumnKind, ColumnLayout, RowLayout, INET_ADDR_V4, INET_ADDR_V6};
use crate::plan::Plan;

use std::collections::HashMap;

/// What the kernel's text differs in from `-o tsv` (README, `bpfq pin --help`).
pub const TEXT_DIFFERENCES: &str = "NULL is `-` (tsv: empty); text is printed as the kernel \
     has it (tabs and newlines inside a value are not escaped); a char array whose size is a \
     multiple of 8 loses its last byte when it fills the whole column; IPv6 addresses are \
     printed in full (fd00:0000:...; bpf_seq_printf ignores %pI6c); kernel pointers, also \
     those inside a struct printed as bytes, are printed with %pK (zeros unless kptr_restrict \
     allows them); enums of more than 64 names print numbers; an iterator that visits no \
     object prints nothing, not even the header";

/// How the kernel prints a kernel address: hashed or zeros unless kptr_restrict lets the
/// reader of the pinned file see it (vsprintf's `%pK`).
const POINTER_SPEC: &str = "%pK";

/// Enums with more names than this print numbers: each name costs a compare and a call.
const ENUM_NAMES_MAX: usize = 64;

/// The `Function::formats` bytes being built: NUL-terminated strings, each stored once.
#[derive(Default)]
pub(super) struct FormatTable {
    pub bytes: Vec<u8>,
    at: HashMap<String, (u32, u32)>,
}

impl FormatTable {
    /// Offset and length (with the NUL) of `format` in the table.
    fn intern(&mut self, format: &str) -> (u32, u32) {
        if let Some(&found) = self.at.get(format) {
            return found;
        }
        // The table is at most a few KiB: column names and enum names of one query.
        let placed = (self.bytes.len() as u32, format.len() as u32 + 1);
        self.bytes.extend_from_slice(format.as_bytes());
        self.bytes.push(0);
        self.at.insert(format.to_string(), placed);
        placed
    }
}

/// `%` is the only byte a literal part of a `bpf_seq_printf` format must escape.
fn literal(text: &str) -> String {
    text.replace('%', "%%")
}

fn refuse(plan: &Plan, why: &str) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        codes::TEXT_OUTPUT_UNSUPPORTED,
        format!("this query cannot print its rows in the kernel: {why}"),
    )
    .with_note(
        "pinned iterators and compiled objects print each row from the BPF program; \
                sorting, limits, grouping and joins need bpfq in user space",
    );
    if let Some(span) = plan.kernel.columns.first().map(|c| c.expr.span) {
        diagnostic = diagnostic.with_primary(span, "in this query");
    }
    diagnostic
}

/// Refuses plans whose rows cannot be printed object by object in the kernel.
pub(super) fn check(plan: &Plan, layout: &RowLayout, segments: usize) -> Result<(), Diagnostic> {
    // A text program always prints through the seq buffer; only a target whose seq output
    // drops objects at read boundaries (not one that is merely faster through the ring) is out.
    if plan.target.facts().seq_loses_objects {
        return Err(refuse(
            plan,
            &format!(
                "iter/{} loses objects when its seq output stops at a read boundary \
                 (bpfq reads it through a ring buffer)",
                plan.target.name
            ),
        ));
    }
    if plan.user.grouping.is_some() {
        return Err(refuse(plan, "group by and aggregates run in user space"));
    }
    if !plan.user.order_by.is_empty() {
        return Err(refuse(plan, "order by runs in user space"));
    }
    if plan.user.limit.is_some() {
        return Err(refuse(plan, "limit runs in user space"));
    }
    if plan.user.drop_repeated_last {
        return Err(refuse(
            plan,
            &format!("iter/{} repeats its last object", plan.target.name),
        ));
    }
    if let Some(column) = layout
        .columns
        .iter()
        .find(|c| matches!(c.kind, ColumnKind::DentryPath { .. }))
    {
        return Err(refuse(
            plan,
            &format!(
                "column `{}` is a file path built by a dentry walk (this kernel refuses \
                 bpf_d_path there), whose names are joined in user space",
                column.name
            ),
        ));
    }
    if segments > 1 {
        return Err(refuse(
            plan,
            &format!(
                "the row ({} bytes) is wider than one {}-byte segment",
                layout.size,
                crate::layout::SEGMENT_MAX
            ),
        ));
    }
    if let Some((column, why)) = layout.columns.iter().find_map(|c| match c.kind {
        ColumnKind::KernfsPath { .. } => {
            Some((c, "is a kernfs path, whose names are joined in user space"))
        }
        ColumnKind::Shown(_) => Some((c, "is shown as text that user space makes from its number")),
        _ => None,
    }) {
        return Err(refuse(plan, &format!("column `{}` {why}", column.name)));
    }
    if let Some(column) = layout.columns.iter().find(|c| match &c.kind {
        ColumnKind::Bytes { pointers, .. } => pointers.iter().any(|at| (c.offset + at) % 8 != 0),
        _ => false,
    }) {
        return Err(refuse(
            plan,
            &format!(
                "column `{}` holds a kernel address that is not 8-byte aligned, which the \
                 program cannot read back to print it with %pK",
                column.name
            ),
        ));
    }
    if let Some(column) = layout
        .columns
        .iter()
        .find(|c| matches!(c.kind, ColumnKind::Float))
    {
        return Err(internal(format!(
            "float column {} in a kernel row",
            column.name
        )));
    }
    Ok(())
}

impl Lowerer<'_> {
    /// On the first object (`meta->seq_num == 0` and the object is not NULL): the header line,
    /// the column names separated by tabs. The final call (object NULL) is not asked: it has
    /// the seq_num of the last object, 0 after a single object as after none, so an iterator
    /// that visits no object prints nothing at all.
    pub(super) fn print_header(&mut self, plan: &Plan, columns: &[OutputColumn], exit: Block) {
        let names: Vec<String> = columns.iter().map(|c| literal(&c.name)).collect();
        let header = format!("{}\n", names.join("\t"));
        // Loaded through `pure`: the NULL checks that follow reuse this load.
        let object = self.pure(Inst::Load {
            base: self.ctx,
            offset: plan.target.object_offset as i32,
            width: Width::B8,
            signed: false,
        });
        let first = self.b.create_block();
        self.b.note(format!(
            "the final call has {} = NULL: no header then",
            plan.target.object_field
        ));
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::Eq,
            lhs: object,
            rhs: Operand::Imm(0),
            then_to: exit,
            else_to: first,
        });
        self.b.switch_to(first);
        let meta = self.meta(plan);
        let seq_num = self.pure(Inst::Load {
            base: meta,
            offset: plan.target.seq_num_offset as i32,
            width: Width::B8,
            signed: false,
        });
        let print = self.b.create_block();
        let next = self.b.create_block();
        self.b.note("the header line, before the first object");
        self.b.terminate(Terminator::Branch {
            cmp: Cmp::Eq,
            lhs: seq_num,
            rhs: Operand::Imm(0),
            then_to: print,
            else_to: next,
        });
        self.b.switch_to(print);
        self.printf(plan, &header, None);
        self.b.terminate(Terminator::Jump(next));
        self.b.switch_to(next);
    }

    /// Prints the row built on the stack: each column, a tab between them, a newline last.
    pub(super) fn print_row(&mut self, plan: &Plan, layout: &RowLayout) -> Result<(), Diagnostic> {
        let count = layout.columns.len();
        for (index, column) in layout.columns.iter().enumerate() {
            let separator = if index + 1 == count { "\n" } else { "\t" };
            self.b.note(format!("print column {}", column.name));
            let join = self.b.create_block();
            if let Some(flag) = column.null_flag {
                let is_null = self.b.value(Inst::LoadRow {
                    offset: flag,
                    width: Width::B1,
                    signed: false,
                });
                let null = self.b.create_block();
                let present = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Ne,
                    lhs: is_null,
                    rhs: Operand::Imm(0),
                    then_to: null,
                    else_to: present,
                });
                self.b.switch_to(null);
                self.printf(plan, &format!("-{separator}"), None);
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(present);
            }
            self.print_value(plan, column, separator, join)?;
            self.b.switch_to(join);
        }
        Ok(())
    }

    /// Prints one non-NULL value and its separator, then jumps to `join`.
    fn print_value(
        &mut self,
        plan: &Plan,
        column: &ColumnLayout,
        separator: &str,
        join: Block,
    ) -> Result<(), Diagnostic> {
        let offset = column.offset;
        match &column.kind {
            ColumnKind::Int { bytes, signed } => {
                let value = self.row_int(offset, *bytes, *signed)?;
                let spec = if *signed { "%lld" } else { "%llu" };
                self.printf(
                    plan,
                    &format!("{spec}{separator}"),
                    Some(PrintfArg::Value(value)),
                );
            }
            ColumnKind::Bool => {
                let value = self.row_int(offset, 1, false)?;
                let yes = self.b.create_block();
                let no = self.b.create_block();
                self.b.terminate(Terminator::Branch {
                    cmp: Cmp::Ne,
                    lhs: value,
                    rhs: Operand::Imm(0),
                    then_to: yes,
                    else_to: no,
                });
                self.b.switch_to(yes);
                self.printf(plan, &format!("true{separator}"), None);
                self.b.terminate(Terminator::Jump(join));
                self.b.switch_to(no);
                self.printf(plan, &format!("false{separator}"), None);
            }
            ColumnKind::Enum {
                bytes,
                signed,
                names,
            } => {
                let value = self.row_int(offset, *bytes, *signed)?;
                if names.len() <= ENUM_NAMES_MAX {
                    for (number, name) in names {
                        let Ok(imm) = i32::try_from(*number) else {
                            continue;
                        };
                        let hit = self.b.create_block();
                        let next = self.b.create_block();
                        self.b.terminate(Terminator::Branch {
                            cmp: Cmp::Eq,
                            lhs: value,
                            rhs: Operand::Imm(imm),
                            then_to: hit,
                            else_to: next,
                        });
                        self.b.switch_to(hit);
                        self.printf(plan, &format!("{}{separator}", literal(name)), None);
                        self.b.terminate(Terminator::Jump(join));
                        self.b.switch_to(next);
                    }
                }
                let spec = if *signed { "%lld" } else { "%llu" };
                self.printf(
                    plan,
                    &format!("{spec}{separator}"),
                    Some(PrintfArg::Value(value)),
                );
            }
            ColumnKind::Chars { len } => {
                // %s stops at a NUL: a column whose size is a multiple of 8 has no padding
                // byte after it, so its last byte becomes the NUL.
                if len % 8 == 0 && *len > 0 {
                    self.b.effect(Inst::StoreRow {
                        offset: offset + len - 1,
                        width: Width::B1,
                        value: Operand::Imm(0),
                    });
                }
                self.printf(
                    plan,
                    &format!("%s{separator}"),
                    Some(PrintfArg::RowAddress(offset)),
                );
            }
            ColumnKind::VmaPerms => {
                // /proc/PID/maps's `rwxp`: one character per bit (VM_READ, VM_WRITE, VM_EXEC,
                // VM_MAYSHARE as the row keeps them), each printed on its own branch.
                let value = self.row_int(offset, 1, false)?;
                let flags = [
                    (1, "r", "-"),
                    (2, "w", "-"),
                    (4, "x", "-"),
                    (0x80, "s", "p"),
                ];
                for (index, (bit, set, clear)) in flags.into_iter().enumerate() {
                    let tail = if index == flags.len() - 1 {
                        separator
                    } else {
                        ""
                    };
                    let masked = self.b.value(Inst::Binary {
                        op: BinOp::And,
                        lhs: value,
                        rhs: Operand::Imm(bit),
                    });
                    let (yes, no, done) = (
                        self.b.create_block(),
                        self.b.create_block(),
                        self.b.create_block(),
                    );
                    self.b.terminate(Terminator::Branch {
                        cmp: Cmp::Ne,
                        lhs: masked,
                        rhs: Operand::Imm(0),
                        then_to: yes,
                        else_to: no,
                    });
                    self.b.switch_to(yes);
                    self.printf(plan, &format!("{set}{tail}"), None);
                    self.b.terminate(Terminator::Jump(done));
                    self.b.switch_to(no);
                    self.printf(plan, &format!("{clear}{tail}"), None);
                    self.b.terminate(Terminator::Jump(done));
                    self.b.switch_to(done);
                }
            }
            ColumnKind::KernelPointer => {
                let value = self.row_int(offset, 8, false)?;
                self.printf(
                    plan,
                    &format!("{POINTER_SPEC}{separator}"),
                    Some(PrintfArg::Value(value)),
                );
            }
            ColumnKind::Ipv4 => self.printf(
                plan,
                &format!("%pI4{separator}"),
                Some(PrintfArg::RowAddress(offset)),
            ),
            ColumnKind::InetAddr => {
                // The family's own field; the kernel's %pI4/%pI6, or `-` for another family.
                let family = self.row_int(offset, 2, false)?;
                let shown = [
                    (AF_INET, format!("%pI4{separator}"), INET_ADDR_V4),
                    (AF_INET6, format!("%pI6{separator}"), INET_ADDR_V6),
                ];
                for (want, spec, at) in shown {
                    let (hit, next) = (self.b.create_block(), self.b.create_block());
                    self.b.terminate(Terminator::Branch {
                        cmp: Cmp::Eq,
                        lhs: family,
                        rhs: Operand::Imm(i32::from(want)),
                        then_to: hit,
                        else_to: next,
                    });
                    self.b.switch_to(hit);
                    self.printf(plan, &spec, Some(PrintfArg::RowAddress(offset + at)));
                    self.b.terminate(Terminator::Jump(join));
                    self.b.switch_to(next);
                }
                self.printf(plan, &format!("-{separator}"), None);
            }
            ColumnKind::Ipv6 => self.printf(
                plan,
                &format!("%pI6{separator}"),
                Some(PrintfArg::RowAddress(offset)),
            ),
            ColumnKind::Bytes { len, pointers } => {
                // A pointer inside the value is printed as one `%pK` (the kernel's own hiding,
                // 16 digits) in place of its 8 bytes; every other byte as two hex digits.
                let mut at = 0;
                while at < *len {
                    let (spec, value, step) = if pointers.contains(&at) {
                        (POINTER_SPEC, self.row_int(offset + at, 8, false)?, 8)
                    } else {
                        ("%02llx", self.row_int(offset + at, 1, false)?, 1)
                    };
                    at += step;
                    let tail = if at >= *len { separator } else { "" };
                    self.printf(
                        plan,
                        &format!("{spec}{tail}"),
                        Some(PrintfArg::Value(value)),
                    );
                }
            }
            ColumnKind::Float | ColumnKind::Text => {
                return Err(internal("a value computed in user space in a kernel row"))
            }
            ColumnKind::Time(_) => {
                let value = self.row_int(offset, 8, false)?;
                self.printf(
                    plan,
                    &format!("%llu{separator}"),
                    Some(PrintfArg::Value(value)),
                );
            }
            ColumnKind::KernfsPath { .. } | ColumnKind::DentryPath { .. } => {
                return Err(internal("a walked path column in a text row"))
            }
            ColumnKind::Shown(_) => {
                return Err(internal("a column shown by user space in a text row"))
            }
        }
        self.b.terminate(Terminator::Jump(join));
        Ok(())
    }

    fn row_int(
        &mut self,
        offset: u32,
        bytes: u8,
        signed: bool,
    ) -> Result<crate::ir::Value, Diagnostic> {
        let width = Width::from_bytes(u32::from(bytes))
            .ok_or_else(|| internal(format!("a {bytes}-byte integer column")))?;
        Ok(self.b.value(Inst::LoadRow {
            offset,
            width,
            signed,
        }))
    }

    fn printf(&mut self, plan: &Plan, format: &str, arg: Option<PrintfArg>) {
        let seq = self.seq(plan);
        let (format, len) = self.formats.intern(format);
        self.b.effect(Inst::SeqPrintf {
            seq,
            format,
            len,
            arg,
        });
    }
}
