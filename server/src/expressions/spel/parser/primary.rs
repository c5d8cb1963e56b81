//! The operands of the parser: literals, names, `#functions`, `new`, `T(...)`, inline lists
//! and maps, parentheses, and the chain of steps after them (`.name`, `.method()`, `[i]`,
//! `.?[...]`, `.![...]`). Recursion into sub-expressions goes through `expression`, which
//! counts the depth.

use serde_json::{Number, Value};

use super::super::Error;
use super::super::ast::{Node, Step, Which};
use super::super::functions;
use super::super::lexer::{Spanned, Symbol, Token};
use super::super::types::JavaType;
use super::{Parser, describe, not_allowed};

/// `head` followed by `steps`, one flat chain even when `head` is itself a chain.
fn chained(head: Node, mut steps: Vec<Step>) -> Node {
    match head {
        _ if steps.is_empty() => head,
        Node::Chain { head, steps: mut first } => {
            first.append(&mut steps);
            Node::Chain { head, steps: first }
        }
        head => Node::Chain { head: Box::new(head), steps },
    }
}

impl Parser {
    /// A start node followed by its steps, kept flat (see [`Node::Chain`]).
    pub(super) fn chain(&mut self) -> Result<Node, Error> {
        let head = self.start()?;
        let mut steps = Vec::new();
        loop {
            if self.peek_symbol(Symbol::Dot) || self.peek_symbol(Symbol::SafeDot) {
                let null_safe = self.peek_symbol(Symbol::SafeDot);
                self.pos += 1;
                steps.push(self.dotted(null_safe)?);
            } else if self.peek_symbol(Symbol::LSquare) {
                self.pos += 1;
                steps.push(self.bracketed(Symbol::LSquare, false)?);
            } else {
                break;
            }
        }
        Ok(chained(head, steps))
    }

    fn dotted(&mut self, null_safe: bool) -> Result<Step, Error> {
        if let Some(name) = self.ident() {
            if self.peek_symbol(Symbol::LParen) {
                return Ok(Step::Method { name, args: self.arguments()?, null_safe });
            }
            return Ok(Step::Property { name, null_safe });
        }
        match self.peek() {
            Some(&Token::Symbol(
                symbol
                @ (Symbol::Select | Symbol::SelectFirst | Symbol::SelectLast | Symbol::Project | Symbol::LSquare),
            )) => {
                self.pos += 1;
                self.bracketed(symbol, null_safe)
            }
            _ => Err(self.unexpected("a name, a method or a selection after '.'")),
        }
    }

    /// The inside of `[...]`, `?[...]`, `^[...]`, `$[...]` or `![...]`, opening bracket eaten.
    fn bracketed(&mut self, opening: Symbol, null_safe: bool) -> Result<Step, Error> {
        let inner = Box::new(self.expression()?);
        self.expect(Symbol::RSquare)?;
        let select = |which| Step::Select { which, predicate: inner.clone(), null_safe };
        Ok(match opening {
            Symbol::Select => select(Which::All),
            Symbol::SelectFirst => select(Which::First),
            Symbol::SelectLast => select(Which::Last),
            Symbol::Project => Step::Project { expression: inner, null_safe },
            _ => Step::Index { index: inner, null_safe },
        })
    }

    fn arguments(&mut self) -> Result<Vec<Node>, Error> {
        self.expect(Symbol::LParen)?;
        let mut args = Vec::new();
        if self.peek_symbol(Symbol::RParen) {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expression()?);
            if self.peek_symbol(Symbol::Comma) {
                self.pos += 1;
            } else {
                self.expect(Symbol::RParen)?;
                return Ok(args);
            }
        }
    }

    /// What a chain starts with. A dispatch only, so that its frame stays small: nested
    /// expressions recurse through here once per level.
    fn start(&mut self) -> Result<Node, Error> {
        match self.peek() {
            Some(Token::Symbol(Symbol::LParen)) => {
                self.pos += 1;
                self.parenthesized()
            }
            Some(Token::Symbol(Symbol::Hash)) => {
                self.pos += 1;
                self.hash()
            }
            Some(Token::Symbol(Symbol::LCurly)) => {
                self.pos += 1;
                self.inline()
            }
            Some(Token::Ident(_)) => self.word(),
            // Spring lets a chain start with a step on #this: `[0]`, `?[...]`, `![...]`.
            Some(&Token::Symbol(
                symbol
                @ (Symbol::LSquare | Symbol::Select | Symbol::SelectFirst | Symbol::SelectLast | Symbol::Project),
            )) => {
                self.pos += 1;
                let step = self.bracketed(symbol, false)?;
                Ok(Node::Chain { head: Box::new(Node::This), steps: vec![step] })
            }
            _ => self.literal(),
        }
    }

    fn parenthesized(&mut self) -> Result<Node, Error> {
        let inner = self.expression()?;
        self.expect(Symbol::RParen)?;
        Ok(inner)
    }

    /// A number or string literal; anything else here is an error.
    fn literal(&mut self) -> Result<Node, Error> {
        let Some(Spanned { token, position }) = self.advance() else {
            return Err(self.error("the expression ends where a value was expected"));
        };
        match token {
            Token::Int(value) => Ok(Node::Literal(value.into())),
            Token::Real(value) => Number::from_f64(value)
                .map(|number| Node::Literal(Value::Number(number)))
                .ok_or_else(|| Error::Parse { position, message: "the number is not finite".into() }),
            Token::Str(text) => Ok(Node::Literal(Value::String(text))),
            Token::Symbol(Symbol::BeanRef | Symbol::FactoryBeanRef) => Err(not_allowed("a bean reference ('@name')")),
            other => {
                self.pos -= 1;
                Err(self.error(format!("expected a value but found {}", describe(&other))))
            }
        }
    }

    /// A name at the start of a chain: a literal word, `new`, `T(...)`, a method of #this or a
    /// property of #this.
    fn word(&mut self) -> Result<Node, Error> {
        let Some(word) = self.ident() else { return self.literal() };
        match word.to_ascii_lowercase().as_str() {
            "true" => return Ok(Node::Literal(Value::Bool(true))),
            "false" => return Ok(Node::Literal(Value::Bool(false))),
            "null" => return Ok(Node::Literal(Value::Null)),
            "new" if matches!(self.peek(), Some(Token::Ident(_))) => return self.constructor(),
            _ => {}
        }
        if word == "T" && self.peek_symbol(Symbol::LParen) {
            return self.type_reference();
        }
        // gennaker's earlier spelling of `#stage(...)` and `#judgment(...)`.
        if matches!(word.as_str(), "stage" | "judgment") && self.peek_symbol(Symbol::LParen) {
            return Ok(Node::Function { name: word, args: self.arguments()? });
        }
        if self.peek_symbol(Symbol::LParen) {
            let args = self.arguments()?;
            let method = Step::Method { name: word, args, null_safe: false };
            return Ok(Node::Chain { head: Box::new(Node::This), steps: vec![method] });
        }
        Ok(Node::Property(word))
    }

    fn qualified_name(&mut self) -> Result<String, Error> {
        let mut name = String::new();
        loop {
            let Some(part) = self.ident() else {
                return Err(self.unexpected("a type name"));
            };
            name.push_str(&part);
            if !self.peek_symbol(Symbol::Dot) {
                return Ok(name);
            }
            self.pos += 1;
            name.push('.');
        }
    }

    /// `T(name).member` or `T(name).member(args)`; `T(` is eaten up to the `(`.
    fn type_reference(&mut self) -> Result<Node, Error> {
        self.expect(Symbol::LParen)?;
        let name = self.qualified_name()?;
        self.expect(Symbol::RParen)?;
        let class = JavaType::resolve(&name)?;
        let member = if self.peek_symbol(Symbol::Dot) {
            self.pos += 1;
            self.ident()
        } else {
            None
        };
        let Some(member) = member else {
            return Err(self.unexpected("'.' and a static method or field after T(...)"));
        };
        let args = if self.peek_symbol(Symbol::LParen) { Some(self.arguments()?) } else { None };
        Ok(Node::Static { class, member, args })
    }

    /// `new name(args)`; `new` is eaten.
    fn constructor(&mut self) -> Result<Node, Error> {
        let name = self.qualified_name()?;
        if self.peek_symbol(Symbol::LSquare) {
            return Err(not_allowed("creating an array"));
        }
        let class = JavaType::resolve(&name)?;
        if !self.peek_symbol(Symbol::LParen) {
            return Err(self.error(format!("new {name} needs its arguments in parentheses")));
        }
        Ok(Node::New { class, args: self.arguments()? })
    }

    /// `#name(args)`, `#this` or `#root`; `#` is eaten.
    fn hash(&mut self) -> Result<Node, Error> {
        let Some(name) = self.ident() else {
            return Err(self.unexpected("a name after '#'"));
        };
        if self.peek_symbol(Symbol::LParen) {
            if functions::performs_io(&name) {
                return Err(Error::NotAllowed { what: format!("#{name}"), hint: ": no I/O in expressions".into() });
            }
            return Ok(Node::Function { name, args: self.arguments()? });
        }
        match name.as_str() {
            "this" => Ok(Node::This),
            "root" => Ok(Node::Root),
            _ => Err(self.error(format!(
                "unknown variable #{name}: only #root and #this exist (a function needs parentheses: #{name}(...))"
            ))),
        }
    }

    /// `{}`, `{:}`, `{a, b}` or `{key: value, ...}`; `{` is eaten.
    fn inline(&mut self) -> Result<Node, Error> {
        if self.peek_symbol(Symbol::RCurly) {
            self.pos += 1;
            return Ok(Node::List(Vec::new()));
        }
        if self.peek_symbol(Symbol::Colon) {
            self.pos += 1;
            self.expect(Symbol::RCurly)?;
            return Ok(Node::Map(Vec::new()));
        }
        let first = self.expression()?;
        if self.peek_symbol(Symbol::Colon) { self.inline_map(first) } else { self.inline_list(first) }
    }

    /// The rest of `{first, ...}`.
    fn inline_list(&mut self, first: Node) -> Result<Node, Error> {
        let mut items = vec![first];
        while self.peek_symbol(Symbol::Comma) {
            self.pos += 1;
            items.push(self.expression()?);
        }
        self.expect(Symbol::RCurly)?;
        Ok(Node::List(items))
    }

    /// The rest of `{first: value, ...}`, at the first `:`.
    fn inline_map(&mut self, first: Node) -> Result<Node, Error> {
        let mut entries = Vec::new();
        let mut key = first;
        loop {
            self.expect(Symbol::Colon)?;
            entries.push((key, self.expression()?));
            if !self.peek_symbol(Symbol::Comma) {
                break;
            }
            self.pos += 1;
            key = self.expression()?;
        }
        self.expect(Symbol::RCurly)?;
        Ok(Node::Map(entries))
    }
}
