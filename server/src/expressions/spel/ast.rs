//! The parsed form of an expression. Chains (`a.b[0].c()`), runs of `+ - * / %` and runs of
//! `and`/`or` are flat lists rather than nested nodes, so a long run never makes a deep tree:
//! the tree is only as deep as the expression's real nesting, which the parser bounds.

use serde_json::Value;

use super::operators::ArithOp;
use super::types::JavaType;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Literal(Value),
    /// `{a, b}`
    List(Vec<Node>),
    /// `{key: value}`; a bare name as key is the name itself, as in Spring.
    Map(Vec<(Node, Node)>),
    /// `#this`: the element in a selection or projection, else the root.
    This,
    /// `#root`
    Root,
    /// A bare name: a property of `#this`.
    Property(String),
    /// `#name(args)`
    Function {
        name: String,
        args: Vec<Node>,
    },
    Chain {
        head: Box<Node>,
        steps: Vec<Step>,
    },
    Negate(Box<Node>),
    UnaryPlus(Box<Node>),
    Not(Box<Node>),
    /// `first op1 x1 op2 x2 ...`, evaluated left to right.
    Arithmetic {
        first: Box<Node>,
        rest: Vec<(ArithOp, Node)>,
    },
    Power(Box<Node>, Box<Node>),
    Compare {
        op: CompareOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    Matches(Box<Node>, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Ternary {
        condition: Box<Node>,
        when_true: Box<Node>,
        when_false: Box<Node>,
    },
    Elvis {
        value: Box<Node>,
        fallback: Box<Node>,
    },
    /// `new Integer(x)`
    New {
        class: JavaType,
        args: Vec<Node>,
    },
    /// `T(Math).max(a, b)`, or a static field when `args` is `None` (`T(Integer).MAX_VALUE`).
    Static {
        class: JavaType,
        member: String,
        args: Option<Vec<Node>>,
    },
}

/// One link of a chain, applied to the value the chain has so far. `null_safe` is `?.`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Property { name: String, null_safe: bool },
    Method { name: String, args: Vec<Node>, null_safe: bool },
    Index { index: Box<Node>, null_safe: bool },
    Select { which: Which, predicate: Box<Node>, null_safe: bool },
    Project { expression: Box<Node>, null_safe: bool },
}

/// `.?[...]` all matches, `.^[...]` the first, `.$[...]` the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    All,
    First,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}
