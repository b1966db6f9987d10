//! Stage `emit`: IR -> BPF instructions. Liveness, then linear-scan register allocation, then
//! instruction selection; jump targets are symbolic labels resolved by the assembler last.
//! Guarantees: the stack frame fits the kernel's 512 bytes, or a coded error says why not; for a
//! kernel without cpu v4 no instruction needs it (checked on the finished program).

mod emit;
mod liveness;
mod regalloc;

pub use regalloc::Location;

use crate::bpf::asm::Program;
use crate::ir::Function;

/// The kernel's limit on a BPF program's stack.
pub const MAX_STACK: u32 = 512;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    /// Row buffer plus spill slots exceed the stack.
    StackTooLarge { row_size: u32, spill_slots: u32 },
    /// The IR broke an invariant: a bug in bpfq.
    Internal(String),
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodegenError::StackTooLarge { row_size, spill_slots } => write!(
                f,
                "the row ({row_size} bytes) and {spill_slots} spilled values do not fit the {MAX_STACK}-byte BPF stack"
            ),
            CodegenError::Internal(msg) => write!(f, "internal error (this is a bug in bpfq): {msg}"),
        }
    }
}

/// Compiles a verified IR function to a BPF program for a kernel with `features` (cpu v4
/// instructions only where it has them).
pub fn generate(
    func: &Function,
    features: &bpfq_kernel::KernelFeatures,
) -> Result<Program, CodegenError> {
    func.verify().map_err(|e| CodegenError::Internal(e.0))?;
    let liveness = liveness::Liveness::compute(func);
    let allocation = regalloc::allocate(&liveness);
    let scratch = if func.uses_probe_scratch() { 8 } else { 0 };
    // Frame: row buffer, probe scratch, IR slots, then spill slots.
    let below_row = scratch + 8 * func.slots;
    let frame = func.row_size + below_row + 8 * allocation.spill_slots;
    if frame > MAX_STACK {
        return Err(CodegenError::StackTooLarge {
            row_size: func.row_size,
            spill_slots: allocation.spill_slots,
        });
    }
    let mut program = emit::emit(func, &allocation.locations, below_row, features.cpu_v4)?;
    if !features.cpu_v4 {
        if let Some(at) = program.insns.iter().position(|i| i.needs_cpu_v4()) {
            return Err(CodegenError::Internal(format!(
                "instruction {at} needs cpu v4, which this kernel lacks"
            )));
        }
    }
    program.formats = func.formats.clone();
    Ok(program)
}
