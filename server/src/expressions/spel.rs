//! A SpEL (Spring Expression Language) evaluator for Spinnaker-style pipeline expressions, the
//! text inside `${...}` as Orca evaluates it, over `serde_json::Value`, with hard bounds on
//! the work any expression can cause. The `${}` template itself is parsed elsewhere.
//!
//! # What is supported
//! - Literals: integers (`42`, `42L`, `0x2A`), decimals (`1.5`, `1e3`), `'single'` and
//!   `"double"` quoted strings (a doubled quote escapes it), `true`, `false`, `null`, inline
//!   lists `{1, 2}` and maps `{a: 1, 'b': 2}` (a bare key is the name itself).
//! - Names are properties of the root (`trigger`, `parameters`, `execution`, stage context
//!   keys); `#root`; `#this` (the current element in selections and projections).
//! - `a.b`, `a?.b`, `a['key']`, `a[0]`, `'text'[0]`; selection `.?[p]`, `.^[p]` (first),
//!   `.$[p]` (last) and projection `.![e]` over lists, and over maps as entries with `key` and
//!   `value`.
//! - Operators `+ - * / % ^`, `+` concatenating when either side is a string; unary `- + !`
//!   and `not`; `== != < > <= >=` and `eq ne lt gt le ge`; `and`/`&&`, `or`/`||`
//!   (short-circuit); `c ? a : b`; Elvis `a ?: b`; `text matches 'regex'`.
//!   Integer arithmetic stays integral (`7 / 2` is 3) and is checked: overflow and division by
//!   zero are errors.
//! - Java methods on values (see `methods`): `toUpperCase()`, `split(',')`, `substring(1)`,
//!   `contains(x)`, `size()`, `containsKey(k)`, `intValue()`, `toString()`, ...
//! - `new Integer|Long|Double|Boolean|String(x)` and `T(Integer|Long|Double|Boolean|String|
//!   Math).member(...)`, with or without `java.lang.` (see `types`).
//! - Functions `#name(args)`: the pure kork helpers `#toJson`, `#readJson`, `#toInt`,
//!   `#toFloat`, `#toBoolean`, `#toBase64`, `#fromBase64`, `#alphanumerical` built in; any
//!   other (`#stage`, `#judgment`, `#stageByRefId`, ...) is asked of the caller's
//!   [`Functions`]. Unlike Orca, the caller's functions do not receive the execution as a
//!   first argument: they are expected to know it.
//!
//! # What is refused
//! Refused when parsing (so a save-time [`parse`] reports it): assignment `=`, `++`/`--`,
//! bean references `@x`, any type outside the allow-list (`T(java.lang.Runtime)`,
//! `new java.io.File(..)`), the URL helpers `#fromUrl`, `#jsonFromUrl`, `#yamlFromUrl`,
//! `#propertiesFromUrl` (no I/O in expressions), variables other than `#root` and `#this`,
//! and the `instanceof` and `between` operators.
//!
//! # Missing keys (what Orca does)
//! Orca evaluates stage contexts with kork's `MapPropertyAccessor(allowUnknownKeys = true)`:
//! `trigger.nope` and `trigger['nope']` are null, not errors; reading anything *from* null
//! (`trigger.nope.deeper`) is an error unless written `trigger.nope?.deeper`. This evaluator
//! always behaves that way. (Orca's strict mode, used only when starting a pipeline from the
//! API, errors on `trigger.nope`; it is not offered here. Orca's `execution` is a Java bean on
//! which unknown properties are errors; here it is JSON like the rest, so they are null.)
//! Maps iterate in `serde_json`'s order (sorted keys), not Jackson's insertion order: this
//! shows in `#toJson`, `keySet()` and in `.^[...]`/`.$[...]` over a map.
//!
//! # Bounds
//! Every limit is in [`Limits`]; the defaults: expressions of at most 10,000 characters
//! (Spring's own default), nesting at most 64 levels deep (checked before each recursion, so
//! no input can overflow the stack), at most 100,000 evaluation steps (a node evaluated, an
//! element visited by a selection or projection, 4 JSON nodes copied, 128 bytes of text
//! scanned or built; in a release build the whole budget is about 0.1 s of work), strings of
//! at most 1 MiB and lists or maps of at most 10,000 items produced. Regular expressions have
//! at most 1,000 characters and use the regex crate (no backtracking); a search is charged
//! the text's length times the compiled pattern's size, since without the crate's `perf`
//! features its time is proportional to both. Nothing here panics on any input.

mod ast;
mod eval;
mod functions;
mod lexer;
mod methods;
mod operators;
mod parser;
mod types;
mod values;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// The bounds on one evaluation; tighten them per caller as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest expression accepted, in characters.
    pub max_length: usize,
    /// Deepest nesting of parentheses, brackets, calls, selections and unary operators.
    pub max_depth: usize,
    /// Most evaluation steps (see the module documentation for what a step is).
    pub max_steps: u64,
    /// Longest string an expression may produce, in bytes.
    pub max_string: usize,
    /// Most items in a list or map an expression may produce.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_length: 10_000, max_depth: 64, max_steps: 100_000, max_string: 1 << 20, max_items: 10_000 }
    }
}

/// The `#name(args)` functions the caller supplies (`#stage`, `#judgment`, ...). The built-in
/// helpers (`#toJson`, ...) take precedence over these.
pub trait Functions {
    /// Calls `name` with the evaluated arguments: `None` when the caller has no such function
    /// (the expression then fails with "unknown function"), `Some(Err(message))` when it fails.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
}

/// No functions beyond the built-in ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
}

impl<F> Functions for F
where
    F: Fn(&str, &[Value]) -> Option<Result<Value, String>>,
{
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        self(name, args)
    }
}

/// Why an expression could not be parsed or evaluated. Positions count characters from 0.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("the expression is {length} characters long; the limit is {limit}")]
    TooLong { length: usize, limit: usize },
    #[error("syntax error at character {position}: {message}")]
    Parse { position: usize, message: String },
    #[error("the expression nests more than {limit} levels deep (at character {position})")]
    TooDeep { position: usize, limit: usize },
    #[error("{what} is not allowed in expressions{hint}")]
    NotAllowed { what: String, hint: String },
    #[error("{message}")]
    Evaluate { message: String },
    #[error("#{name}() failed: {message}")]
    Function { name: String, message: String },
    #[error("expression too costly: it needs more than {limit} evaluation steps")]
    TooCostly { limit: u64 },
    #[error("result too large: {what} would exceed the limit of {limit}")]
    TooLarge { what: &'static str, limit: usize },
}

/// A parsed expression, to check at save time and evaluate any number of times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    root: ast::Node,
}

/// Parses `expression` (the text inside `${}`), refusing what expressions may never do.
pub fn parse(expression: &str, limits: &Limits) -> Result<Expr, Error> {
    // Cheap first: a string of n bytes has at most n characters.
    if expression.len() > limits.max_length {
        let length = expression.chars().count();
        if length > limits.max_length {
            return Err(Error::TooLong { length, limit: limits.max_length });
        }
    }
    let chars: Vec<char> = expression.chars().collect();
    let tokens = lexer::tokenize(&chars)?;
    let root = parser::parse(tokens, chars.len(), limits.max_depth)?;
    Ok(Expr { root })
}

/// Parses and evaluates `expression` against `root` (the JSON object whose keys are the
/// names an expression can use).
pub fn evaluate(expression: &str, root: &Value, functions: &dyn Functions, limits: &Limits) -> Result<Value, Error> {
    evaluate_parsed(&parse(expression, limits)?, root, functions, limits)
}

/// Evaluates an expression parsed earlier.
pub fn evaluate_parsed(expr: &Expr, root: &Value, functions: &dyn Functions, limits: &Limits) -> Result<Value, Error> {
    let mut evaluator = eval::Evaluator::new(functions, limits);
    let value = evaluator.eval(&expr.root, eval::This::Value(root), root)?;
    // The final copy out of the root is not metered: it is at most one copy of what the
    // caller already holds.
    Ok(value.into_owned())
}

/// The text Orca puts in place of an expression that is only part of a string (`"v${n}"`):
/// Spring's conversion to `String`, where lists join with `,` and decimals print like Java
/// (`1.0`). Orca leaves `${...}` in place when the value is null; that is the caller's call.
pub fn to_text(value: &Value, limits: &Limits) -> Result<String, Error> {
    values::convert_to_string(value, limits.max_string)
}
