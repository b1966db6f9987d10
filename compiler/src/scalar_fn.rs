//! The scalar built-ins computed from their arguments' registers alone (no kernel memory, no
//! helper): each one's name and its value as the generated program computes it. The binder's
//! table (`bind::builtins`) types them, `lower::scalar_fn` emits them, and every user-space
//! evaluator (the map walk's) computes them through `eval`, so a value never depends on where
//! it was computed. And the built-ins computed in user space alone (`UserFn`: text, formatting,
//! the clock), whose arguments the program writes and whose values `bpfq_runtime::user_fn`
//! computes.

/// A scalar built-in of the typed tree (`TKind::Call`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarFn {
    /// `if(cond, then, otherwise)`: `then` when the condition holds, else `otherwise`.
    If,
}

/// A scalar built-in computed in user space from values the program writes (`TKind::UserCall`):
/// the plan moves it and what uses it to the user part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFn {
    Upper,
    Lower,
    Length,
    Substr,
    Concat,
    Coalesce,
    Hex,
    FormatBytes,
    FormatDuration,
    Now,
}

impl ScalarFn {
    /// The name the query language calls it by.
    pub fn name(self) -> &'static str {
        match self {
            ScalarFn::If => "if",
        }
    }

    /// Whether the value is NULL when an argument read through a loaded pointer is (`false`:
    /// the function chooses among its arguments, as `if` does, and is never NULL itself).
    pub fn null_in_null_out(self) -> bool {
        match self {
            ScalarFn::If => false,
        }
    }

    /// The value for the arguments' registers (a condition is 1 when it holds, else 0), as the
    /// program computes it; None for the wrong number of arguments (a malformed tree).
    pub fn eval(self, args: &[u64]) -> Option<u64> {
        match (self, args) {
            (ScalarFn::If, [cond, then, otherwise]) => {
                Some(if *cond != 0 { *then } else { *otherwise })
            }
            (ScalarFn::If, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_chooses_by_its_condition() {
        assert_eq!(ScalarFn::If.eval(&[1, 7, 9]), Some(7));
        assert_eq!(ScalarFn::If.eval(&[0, 7, 9]), Some(9));
        assert_eq!(ScalarFn::If.eval(&[0, 7]), None);
    }
}
