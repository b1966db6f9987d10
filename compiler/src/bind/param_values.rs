//! Stage `bind` input: the values of a query's `$params` (`--param name=value`, or a query
//! file's), each as the text the binder reads and, for a parameter declared with an integer
//! type, that type. Guarantees: a value and its declared type travel together, under the
//! parameter's own name.

use std::collections::HashMap;

/// The value of one `$param`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamValue {
    /// As given, or as a query file's parameter type normalised it (`0x1bb` -> `443`).
    pub text: String,
    /// The integer type a query file declared it with (`u16`): `$name` is then a constant of
    /// that type, not a bare literal.
    pub declared: Option<String>,
}

/// Every `$param` value of a compile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, ParamValue>);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// Sets `$name` to `text` (a value given again replaces the first; no declared type).
    pub fn set(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.0.insert(
            name.into(),
            ParamValue {
                text: text.into(),
                declared: None,
            },
        );
    }

    /// `self`, with `$name` declared of integer type `ty` (a parameter without a value is left
    /// out).
    pub fn with_type(mut self, name: &str, ty: &str) -> Params {
        if let Some(value) = self.0.get_mut(name) {
            value.declared = Some(ty.to_string());
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Params {
        let mut params = Params::new();
        for (name, text) in pairs {
            params.set(name, text);
        }
        params
    }
}
