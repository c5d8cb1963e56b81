//! Walks the parsed tree over the root JSON value. Values are `Cow`s: reading `trigger.tag`
//! borrows from the root instead of copying it, and whatever must be copied (into a new list,
//! a selection's result, a function's arguments) is paid for through the [`Meter`] first.
//! Every node evaluated and every element a selection or projection visits costs a step.
//! The links of a chain (`.name`, `[i]`, `.?[...]`, `.method()`) are in `steps`.

use std::borrow::Cow;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::ast::{CompareOp, Node, Step};
use super::operators::{ArithOp, arithmetic, compare, equals, negate, power, to_boolean, unary_plus};
use super::types::JavaType;
use super::values::{Meter, convert_to_string, evaluate_error, string_too_long, too_many_items, type_name};
use super::{Error, Functions, Limits, functions, types};

mod steps;

pub(super) use steps::{element, property};

pub(super) type Val<'a> = Cow<'a, Value>;

/// What bare names and `#this` refer to: the root, a list element inside a selection or
/// projection, or a map entry there (which has just `key` and `value`, as in Spring).
#[derive(Debug, Clone, Copy)]
pub(super) enum This<'a> {
    Value(&'a Value),
    Entry(&'a str, &'a Value),
}

/// Spring refuses longer patterns in `matches` (`OperatorMatches.MAX_REGEX_LENGTH`); applied
/// to every regular expression here.
const MAX_REGEX_LENGTH: usize = 1000;
/// The largest compiled pattern accepted, in KiB (`[a-z]{999}` needs 128).
const MAX_REGEX_KIBIBYTES: u64 = 256;
const MAX_CACHED_REGEXES: usize = 32;

/// A compiled regular expression and its compiled size in KiB (a power of two), which is what
/// a search costs per byte of text.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) regex: Regex,
    weight: u64,
}

pub(super) struct Evaluator<'f> {
    pub(super) functions: &'f dyn Functions,
    pub(super) limits: &'f Limits,
    pub(super) meter: Meter,
    /// Compiled patterns by (anchored, pattern): a projection must not recompile per element.
    regexes: HashMap<(bool, String), Pattern>,
}

impl<'f> Evaluator<'f> {
    pub(super) fn new(functions: &'f dyn Functions, limits: &'f Limits) -> Self {
        Self { functions, limits, meter: Meter::new(limits.max_steps), regexes: HashMap::new() }
    }

    pub(super) fn check_string(&self, bytes: usize) -> Result<(), Error> {
        if bytes > self.limits.max_string { Err(string_too_long(self.limits.max_string)) } else { Ok(()) }
    }

    pub(super) fn check_items(&self, count: usize) -> Result<(), Error> {
        if count > self.limits.max_items { Err(too_many_items(self.limits.max_items)) } else { Ok(()) }
    }

    /// The value itself, copied (and paid for) only if it is borrowed.
    pub(super) fn own(&mut self, value: Val<'_>) -> Result<Value, Error> {
        match value {
            Cow::Borrowed(value) => self.meter.copy(value),
            Cow::Owned(value) => Ok(value),
        }
    }

    /// A compiled pattern; `whole` anchors it so that it must match the entire text, like
    /// Java's `String.matches`. The regex crate never backtracks, but without its `perf`
    /// features a search takes time proportional to the text times the compiled pattern's
    /// size, so the pattern is compiled under growing size limits to learn that size.
    pub(super) fn regex(&mut self, pattern: &str, whole: bool) -> Result<Pattern, Error> {
        if pattern.chars().count() > MAX_REGEX_LENGTH {
            return Err(evaluate_error(format!("a regular expression may have at most {MAX_REGEX_LENGTH} characters")));
        }
        let key = (whole, pattern.to_string());
        if let Some(compiled) = self.regexes.get(&key) {
            return Ok(compiled.clone());
        }
        // Checked alone first: wrapped, an invalid `a)|(b` would become a valid alternation.
        if let Err(regex::Error::Syntax(error)) = RegexBuilder::new(pattern).size_limit(0).build() {
            return Err(evaluate_error(format!("invalid regular expression '{pattern}': {error}")));
        }
        let source = if whole { format!("^(?:{pattern})$") } else { pattern.to_string() };
        let mut kibibytes = 1;
        let compiled = loop {
            // Compiling costs about as much as its size: paid for before each attempt.
            self.meter.charge(4 * kibibytes)?;
            let built = RegexBuilder::new(&source)
                .size_limit(1024 * kibibytes as usize)
                .dfa_size_limit(256 * 1024)
                .nest_limit(64)
                .build();
            match built {
                Ok(regex) => break Pattern { regex, weight: kibibytes },
                Err(regex::Error::CompiledTooBig(_)) if kibibytes < MAX_REGEX_KIBIBYTES => kibibytes *= 2,
                Err(regex::Error::CompiledTooBig(_)) => {
                    return Err(evaluate_error(format!("the regular expression '{pattern}' is too complex")));
                }
                Err(error) => {
                    return Err(evaluate_error(format!("invalid regular expression '{pattern}': {error}")));
                }
            }
        };
        if self.regexes.len() < MAX_CACHED_REGEXES {
            self.regexes.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    /// Pays for searching `bytes` bytes of text with `pattern` (see [`Self::regex`]).
    pub(super) fn charge_search(&mut self, pattern: &Pattern, bytes: usize) -> Result<(), Error> {
        self.meter.charge(1 + (bytes as u64).saturating_mul(pattern.weight) / 4)
    }

    /// Pays for reading the strings among `values` (comparing, converting, searching them).
    pub(super) fn charge_strings<'v>(&mut self, values: impl IntoIterator<Item = &'v Value>) -> Result<(), Error> {
        for value in values {
            if let Value::String(text) = value {
                self.meter.charge_bytes(text.len())?;
            }
        }
        Ok(())
    }

    /// Evaluates one node. Only a dispatch, so that its stack frame stays small even in an
    /// unoptimized build: nested expressions recurse through here once per level.
    pub(super) fn eval<'a>(&mut self, node: &'a Node, this: This<'a>, root: &'a Value) -> Result<Val<'a>, Error> {
        self.meter.charge(1)?;
        match node {
            Node::Literal(value) => Ok(Cow::Borrowed(value)),
            Node::This => self.this_value(this),
            Node::Root => Ok(Cow::Borrowed(root)),
            Node::Property(name) => self.head_property(this, name),
            Node::Chain { head, steps } => self.chain(head, steps, this, root),
            Node::List(items) => self.list(items, this, root),
            Node::Map(entries) => self.inline_map(entries, this, root),
            Node::Function { name, args } => self.function(name, args, this, root),
            Node::Negate(operand) | Node::UnaryPlus(operand) | Node::Not(operand) => {
                self.unary(node, operand, this, root)
            }
            Node::Arithmetic { first, rest } => self.arithmetic(first, rest, this, root),
            Node::Power(base, exponent) => self.power(base, exponent, this, root),
            Node::Compare { op, left, right } => self.compare(*op, left, right, this, root),
            Node::Matches(text, pattern) => self.matches(text, pattern, this, root),
            Node::And(operands) => self.logic(operands, false, this, root),
            Node::Or(operands) => self.logic(operands, true, this, root),
            Node::Ternary { condition, when_true, when_false } => {
                let condition = self.eval(condition, this, root)?;
                let branch = if to_boolean(&condition, "the condition of '? :'")? { when_true } else { when_false };
                self.eval(branch, this, root)
            }
            Node::Elvis { value, fallback } => self.elvis(value, fallback, this, root),
            Node::New { class, args } => self.construct(*class, args, this, root),
            Node::Static { class, member, args } => self.static_member(*class, member, args.as_deref(), this, root),
        }
    }

    fn chain<'a>(
        &mut self,
        head: &'a Node,
        steps: &'a [Step],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let mut current = self.eval(head, this, root)?;
        for step in steps {
            self.meter.charge(1)?;
            current = self.step(current, step, this, root)?;
        }
        Ok(current)
    }

    fn list<'a>(&mut self, items: &'a [Node], this: This<'a>, root: &'a Value) -> Result<Val<'a>, Error> {
        self.check_items(items.len())?;
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            let value = self.eval(item, this, root)?;
            list.push(self.own(value)?);
        }
        Ok(Cow::Owned(Value::Array(list)))
    }

    fn unary<'a>(&mut self, node: &Node, operand: &'a Node, this: This<'a>, root: &'a Value) -> Result<Val<'a>, Error> {
        let value = self.eval(operand, this, root)?;
        match node {
            Node::Negate(_) => Ok(Cow::Owned(negate(&value)?)),
            Node::Not(_) => Ok(Cow::Owned(Value::Bool(!to_boolean(&value, "the operand of '!'")?))),
            _ => unary_plus(&value).map(|()| value),
        }
    }

    fn arithmetic<'a>(
        &mut self,
        first: &'a Node,
        rest: &'a [(ArithOp, Node)],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let mut result = self.eval(first, this, root)?;
        for (op, operand) in rest {
            let right = self.eval(operand, this, root)?;
            let value = arithmetic(*op, &result, &right, self.limits.max_string)?;
            self.charge_strings([&value])?;
            result = Cow::Owned(value);
        }
        Ok(result)
    }

    fn power<'a>(
        &mut self,
        base: &'a Node,
        exponent: &'a Node,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let base = self.eval(base, this, root)?;
        let exponent = self.eval(exponent, this, root)?;
        Ok(Cow::Owned(power(&base, &exponent)?))
    }

    fn compare<'a>(
        &mut self,
        op: CompareOp,
        left: &'a Node,
        right: &'a Node,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let left = self.eval(left, this, root)?;
        let right = self.eval(right, this, root)?;
        self.charge_strings([&*left, &*right])?;
        let verdict = match op {
            CompareOp::Eq => equals(&left, &right, &mut self.meter)?,
            CompareOp::Ne => !equals(&left, &right, &mut self.meter)?,
            CompareOp::Lt => compare(&left, &right)?.is_lt(),
            CompareOp::Gt => compare(&left, &right)?.is_gt(),
            CompareOp::Le => compare(&left, &right)?.is_le(),
            CompareOp::Ge => compare(&left, &right)?.is_ge(),
        };
        Ok(Cow::Owned(Value::Bool(verdict)))
    }

    /// `and` (stops at the first false) or `or` (stops at the first true).
    fn logic<'a>(
        &mut self,
        operands: &'a [Node],
        is_or: bool,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let role = if is_or { "an operand of 'or'" } else { "an operand of 'and'" };
        for operand in operands {
            if to_boolean(&*self.eval(operand, this, root)?, role)? == is_or {
                return Ok(Cow::Owned(Value::Bool(is_or)));
            }
        }
        Ok(Cow::Owned(Value::Bool(!is_or)))
    }

    fn elvis<'a>(
        &mut self,
        value: &'a Node,
        fallback: &'a Node,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let value = self.eval(value, this, root)?;
        // Spring's Elvis also replaces the empty string.
        if value.is_null() || value.as_str() == Some("") { self.eval(fallback, this, root) } else { Ok(value) }
    }

    fn construct<'a>(
        &mut self,
        class: JavaType,
        args: &'a [Node],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let args = self.arguments(args, this, root)?;
        let args: Vec<&Value> = args.iter().map(|arg| &**arg).collect();
        self.charge_strings(args.iter().copied())?;
        let value = types::construct(class, &args, self.limits.max_string)?;
        self.charge_strings([&value])?;
        Ok(Cow::Owned(value))
    }

    fn static_member<'a>(
        &mut self,
        class: JavaType,
        member: &str,
        args: Option<&'a [Node]>,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let args = args.map(|args| self.arguments(args, this, root)).transpose()?;
        let args: Option<Vec<&Value>> = args.as_ref().map(|args| args.iter().map(|arg| &**arg).collect());
        self.charge_strings(args.iter().flatten().copied())?;
        let value = types::static_member(class, member, args.as_deref(), self.limits.max_string)?;
        self.charge_strings([&value])?;
        Ok(Cow::Owned(value))
    }

    fn this_value<'a>(&mut self, this: This<'a>) -> Result<Val<'a>, Error> {
        match this {
            This::Value(value) => Ok(Cow::Borrowed(value)),
            This::Entry(key, value) => {
                let mut entry = Map::new();
                entry.insert("key".into(), Value::String(key.into()));
                entry.insert("value".into(), self.meter.copy(value)?);
                Ok(Cow::Owned(Value::Object(entry)))
            }
        }
    }

    fn head_property<'a>(&mut self, this: This<'a>, name: &str) -> Result<Val<'a>, Error> {
        match (this, name) {
            (This::Value(value), _) => property(Cow::Borrowed(value), name, false),
            (This::Entry(key, _), "key") => Ok(Cow::Owned(Value::String(key.into()))),
            (This::Entry(_, value), "value") => Ok(Cow::Borrowed(value)),
            (This::Entry(..), _) => {
                Err(evaluate_error(format!("a map entry has only 'key' and 'value', not '{name}'")))
            }
        }
    }

    pub(super) fn arguments<'a>(
        &mut self,
        args: &'a [Node],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Vec<Val<'a>>, Error> {
        args.iter().map(|arg| self.eval(arg, this, root)).collect()
    }

    fn inline_map<'a>(
        &mut self,
        entries: &'a [(Node, Node)],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        self.check_items(entries.len())?;
        let mut map = Map::new();
        for (key, value) in entries {
            // As in Spring, a bare name is the key itself: `{env: 1}` has the key "env".
            let key = match key {
                Node::Property(name) => name.clone(),
                other => {
                    let key = self.eval(other, this, root)?;
                    self.charge_strings([&*key])?;
                    convert_to_string(&key, self.limits.max_string)?
                }
            };
            let value = self.eval(value, this, root)?;
            map.insert(key, self.own(value)?);
        }
        Ok(Cow::Owned(Value::Object(map)))
    }

    fn function<'a>(
        &mut self,
        name: &str,
        args: &'a [Node],
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let args = self.arguments(args, this, root)?;
        if let Some(result) = functions::builtin(self, name, &args) {
            return result.map(Cow::Owned);
        }
        let mut owned = Vec::with_capacity(args.len());
        for arg in args {
            owned.push(self.own(arg)?);
        }
        match self.functions.call(name, &owned) {
            None => Err(evaluate_error(format!("unknown function #{name}"))),
            Some(Ok(value)) => Ok(Cow::Owned(value)),
            Some(Err(message)) => Err(Error::Function { name: name.into(), message }),
        }
    }

    fn matches<'a>(
        &mut self,
        text: &'a Node,
        pattern: &'a Node,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let text = self.eval(text, this, root)?;
        let pattern = self.eval(pattern, this, root)?;
        let (Value::String(text), Value::String(pattern)) = (&*text, &*pattern) else {
            return Err(evaluate_error(format!(
                "'matches' needs a string on both sides, not {} and {}",
                type_name(&text),
                type_name(&pattern)
            )));
        };
        let pattern = self.regex(pattern, true)?;
        self.charge_search(&pattern, text.len())?;
        Ok(Cow::Owned(Value::Bool(pattern.regex.is_match(text))))
    }
}
