//! Recursive-descent parser with Spring's grammar and precedence (lowest first): ternary
//! `?:` and Elvis `?:`; `or`/`||`; `and`/`&&`; one relational operator (`==`, `<`, `matches`,
//! ...); `+ -`; `* / %`; `^`; unary `! - +`; then a primary with its chain of `.name`,
//! `.method()`, `[index]`, `.?[]`, `.^[]`, `.$[]`, `.![]`.
//!
//! Every recursion goes through [`Parser::enter`], which counts the depth and fails *before*
//! going deeper than the limit: no input can overflow the stack. What expressions may never do
//! (assignment, bean references, `++`, types outside the allow-list, I/O functions) is refused
//! here, so a save-time [`super::parse`] already reports it.

use super::Error;
use super::ast::{CompareOp, Node};
use super::lexer::{Spanned, Symbol, Token};
use super::operators::ArithOp;

mod primary;

pub(super) fn parse(tokens: Vec<Spanned>, length: usize, max_depth: usize) -> Result<Node, Error> {
    let mut parser = Parser { tokens, pos: 0, depth: 0, max_depth, end: length };
    if parser.tokens.is_empty() {
        return Err(Error::Parse { position: 0, message: "the expression is empty".into() });
    }
    let node = parser.expression()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(node),
        Some(spanned) => Err(Error::Parse {
            position: spanned.position,
            message: format!("unexpected {} after a complete expression", describe(&spanned.token)),
        }),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Int(value) => format!("number {value}"),
        Token::Real(value) => format!("number {value}"),
        Token::Str(text) => format!("string '{text}'"),
        Token::Ident(word) => format!("'{word}'"),
        Token::Symbol(symbol) => format!("'{}'", symbol.text()),
    }
}

fn not_allowed(what: impl Into<String>) -> Error {
    Error::NotAllowed { what: what.into(), hint: String::new() }
}

#[cold]
fn increment_refused() -> Error {
    not_allowed("'++' or '--'")
}

/// A binary operator, by what it builds.
#[derive(Debug, Clone, Copy)]
enum Binary {
    Or,
    And,
    Compare(CompareOp),
    Matches,
    Arithmetic(ArithOp),
    Power,
}

impl Binary {
    /// Higher binds tighter, as in Spring's grammar.
    fn precedence(self) -> u8 {
        match self {
            Binary::Or => 1,
            Binary::And => 2,
            Binary::Compare(_) | Binary::Matches => 3,
            Binary::Arithmetic(ArithOp::Add | ArithOp::Sub) => 4,
            Binary::Arithmetic(_) => 5,
            Binary::Power => 6,
        }
    }

    /// Whether `a op b op c` parses (as `(a op b) op c`).
    fn chains(self) -> bool {
        !matches!(self, Binary::Compare(_) | Binary::Matches | Binary::Power)
    }
}

/// `left op right`, appended to `left` when it is already a run of the same precedence, so
/// that `1 + 2 + ... + n` is one node whatever `n` (left to right, same result).
fn combine(left: Node, op: Binary, right: Node) -> Node {
    let precedence = op.precedence();
    match (op, left) {
        (Binary::Or, Node::Or(mut operands)) | (Binary::And, Node::And(mut operands)) => {
            operands.push(right);
            if matches!(op, Binary::Or) { Node::Or(operands) } else { Node::And(operands) }
        }
        (Binary::Or, left) => Node::Or(vec![left, right]),
        (Binary::And, left) => Node::And(vec![left, right]),
        (Binary::Arithmetic(op), Node::Arithmetic { first, mut rest })
            if rest.first().is_some_and(|&(run, _)| Binary::Arithmetic(run).precedence() == precedence) =>
        {
            rest.push((op, right));
            Node::Arithmetic { first, rest }
        }
        (Binary::Arithmetic(op), left) => Node::Arithmetic { first: Box::new(left), rest: vec![(op, right)] },
        (Binary::Compare(op), left) => Node::Compare { op, left: Box::new(left), right: Box::new(right) },
        (Binary::Matches, left) => Node::Matches(Box::new(left), Box::new(right)),
        (Binary::Power, left) => Node::Power(Box::new(left), Box::new(right)),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// The expression's length in characters: the position reported at its end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|spanned| &spanned.token)
    }

    fn peek_symbol(&self, symbol: Symbol) -> bool {
        self.peek() == Some(&Token::Symbol(symbol))
    }

    fn position(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |spanned| spanned.position)
    }

    /// Eats and returns the next token if it is an identifier.
    fn ident(&mut self) -> Option<String> {
        let Some(Token::Ident(word)) = self.peek() else { return None };
        let word = word.clone();
        self.pos += 1;
        Some(word)
    }

    fn advance(&mut self) -> Option<Spanned> {
        let spanned = self.tokens.get(self.pos).cloned();
        self.pos += usize::from(spanned.is_some());
        spanned
    }

    #[cold]
    fn unsupported_operator(&self, word: &str) -> Error {
        self.error(format!("the '{word}' operator is not supported"))
    }

    #[cold]
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Parse { position: self.position(), message: message.into() }
    }

    #[cold]
    fn unexpected(&self, expected: &str) -> Error {
        self.error(format!("expected {expected} but found {}", self.found()))
    }

    #[cold]
    fn found(&self) -> String {
        self.peek().map_or_else(|| "the end of the expression".to_string(), describe)
    }

    fn expect(&mut self, symbol: Symbol) -> Result<(), Error> {
        if self.peek_symbol(symbol) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", symbol.text())))
        }
    }

    /// Enters one more level of nesting, refusing before the limit is passed; every
    /// recursion of the parser goes through here, paired with [`Self::leave`].
    fn enter(&mut self) -> Result<(), Error> {
        if self.depth >= self.max_depth {
            return Err(Error::TooDeep { position: self.position(), limit: self.max_depth });
        }
        self.depth += 1;
        Ok(())
    }

    fn leave<T>(&mut self, result: T) -> T {
        self.depth -= 1;
        result
    }

    fn expression(&mut self) -> Result<Node, Error> {
        self.enter()?;
        let result = self.ternary();
        self.leave(result)
    }

    fn ternary(&mut self) -> Result<Node, Error> {
        let value = self.binary(0)?;
        match self.peek() {
            Some(Token::Symbol(Symbol::Assign)) => Err(not_allowed("assignment '='")),
            Some(Token::Symbol(Symbol::Elvis | Symbol::QMark)) => self.conditional(value),
            _ => Ok(value),
        }
    }

    /// `value ?: fallback` or `value ? when_true : when_false`, at the `?:` or `?`.
    fn conditional(&mut self, value: Node) -> Result<Node, Error> {
        let elvis = self.peek_symbol(Symbol::Elvis);
        self.pos += 1;
        let first = Box::new(self.expression()?);
        if elvis {
            return Ok(Node::Elvis { value: Box::new(value), fallback: first });
        }
        self.expect(Symbol::Colon)?;
        let when_false = Box::new(self.expression()?);
        Ok(Node::Ternary { condition: Box::new(value), when_true: first, when_false })
    }

    /// The binary operator at the current token, if any (not eaten).
    fn binary_operator(&self) -> Result<Option<Binary>, Error> {
        Ok(Some(match self.peek() {
            Some(Token::Ident(word)) => match word.to_ascii_lowercase().as_str() {
                "or" => Binary::Or,
                "and" => Binary::And,
                "matches" => Binary::Matches,
                "instanceof" | "between" => return Err(self.unsupported_operator(word)),
                _ => return Ok(None),
            },
            Some(Token::Symbol(symbol)) => match symbol {
                Symbol::OrOr => Binary::Or,
                Symbol::AndAnd => Binary::And,
                Symbol::Eq => Binary::Compare(CompareOp::Eq),
                Symbol::Ne => Binary::Compare(CompareOp::Ne),
                Symbol::Lt => Binary::Compare(CompareOp::Lt),
                Symbol::Gt => Binary::Compare(CompareOp::Gt),
                Symbol::Le => Binary::Compare(CompareOp::Le),
                Symbol::Ge => Binary::Compare(CompareOp::Ge),
                Symbol::Plus => Binary::Arithmetic(ArithOp::Add),
                Symbol::Minus => Binary::Arithmetic(ArithOp::Sub),
                Symbol::Star => Binary::Arithmetic(ArithOp::Mul),
                Symbol::Div => Binary::Arithmetic(ArithOp::Div),
                Symbol::Mod => Binary::Arithmetic(ArithOp::Rem),
                Symbol::Power => Binary::Power,
                Symbol::Inc | Symbol::Dec => return Err(increment_refused()),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }

    /// Operators binding at least as tightly as `min`, by precedence climbing: the recursion
    /// is bounded by the number of precedence levels, and runs of one operator stay flat.
    fn binary(&mut self, min: u8) -> Result<Node, Error> {
        let mut left = self.unary()?;
        let mut previous: Option<Binary> = None;
        while let Some(op) = self.binary_operator()? {
            let precedence = op.precedence();
            // Spring takes one relational operator or `^` at a time: `a == b == c` is an error.
            let repeated = previous.is_some_and(|previous| !previous.chains() && previous.precedence() == precedence);
            if precedence < min || repeated {
                break;
            }
            self.pos += 1;
            let right = self.binary(precedence + 1)?;
            left = combine(left, op, right);
            previous = Some(op);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, Error> {
        let wrap: fn(Box<Node>) -> Node = match self.peek() {
            Some(Token::Symbol(Symbol::Not)) => Node::Not,
            Some(Token::Symbol(Symbol::Minus)) => Node::Negate,
            Some(Token::Symbol(Symbol::Plus)) => Node::UnaryPlus,
            Some(Token::Symbol(Symbol::Inc | Symbol::Dec)) => return Err(increment_refused()),
            _ => return self.chain(),
        };
        self.pos += 1;
        self.enter()?;
        let operand = self.unary();
        Ok(wrap(Box::new(self.leave(operand)?)))
    }
}
