//! Go's `text/template` language, parsed into a tree: the language Helm charts are written in.
//! Text and actions `{{ }}` with the trim markers `{{-` and `-}}`, comments, pipelines with
//! variables (`$x :=`, `$x =`), fields (`.Values.image.tag`, `$.Chart.Name`, `(...).field`),
//! literals, `if`/`else if`/`else`, `range` (with `$i, $v :=`), `with`/`else with`, `define`,
//! `template`, `block`, `break` and `continue`. Evaluation is `exec.rs`'s.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("{template}:{line}: {message}")]
    Syntax { template: String, line: usize, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: its value is printed unless it declares or assigns a variable.
    Action(Pipeline),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    With { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    Range { pipeline: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
    Template { name: String, data: Option<Pipeline> },
    Break,
    Continue,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// Variables it declares (`$x :=`, `$i, $v :=` in a range) or assigns (`$x =`).
    pub variables: Vec<String>,
    pub assigns: bool,
    pub commands: Vec<Command>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub operands: Vec<Operand>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.`, or `.a.b` (fields of dot).
    Field(Vec<String>),
    /// `$x.a.b` (`$` alone is the template's data).
    Variable(String, Vec<String>),
    /// A function's name.
    Function(String),
    Literal(Value),
    /// `(pipeline).a.b`.
    Group(Box<Pipeline>, Vec<String>),
}

/// A parsed template: its body and the templates it defines.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub body: Vec<Node>,
    pub defines: BTreeMap<String, Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Identifier(String),
    Field(Vec<String>),
    Variable(String, Vec<String>),
    /// Fields right after a `)`.
    Chain(Vec<String>),
    Literal(Value),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
enum Item {
    Text(String),
    Action { tokens: Vec<Token>, line: usize },
}

/// Parses `source`, named `name` in errors.
pub fn parse(name: &str, source: &str) -> Result<Parsed, Error> {
    let items = lex(name, source)?;
    let mut parser = Parser { name, items, at: 0, defines: BTreeMap::new() };
    let (body, end) = parser.list()?;
    if let Some((keyword, line)) = end {
        return Err(parser.error(line, &format!("unexpected {{{{{keyword}}}}}")));
    }
    Ok(Parsed { body, defines: parser.defines })
}

fn syntax(name: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Syntax { template: name.to_string(), line, message: message.into() }
}

fn lex(name: &str, source: &str) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut rest = source;
    let mut line = 1;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            push_text(&mut items, rest, trim_next, false);
            break;
        };
        let after = &rest[open + 2..];
        let trim_before = after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n") || after.starts_with("-\r");
        push_text(&mut items, &rest[..open], trim_next, trim_before);
        line += rest[..open].matches('\n').count();
        let inner_start = if trim_before { 2 } else { 0 };
        let inner = &after[inner_start..];
        let (content, close_len, trim_after) = action_end(name, inner, line)?;
        let body = &inner[..content];
        let trimmed = body.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return Err(syntax(name, line, "unclosed comment"));
            }
        } else {
            let tokens = tokens(name, body, line)?;
            items.push(Item::Action { tokens, line });
        }
        line += body.matches('\n').count();
        rest = &inner[content + close_len..];
        trim_next = trim_after;
    }
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: &str, trim_start: bool, trim_end: bool) {
    let mut text = text;
    if trim_start {
        text = text.trim_start();
    }
    if trim_end {
        text = text.trim_end();
    }
    if !text.is_empty() {
        items.push(Item::Text(text.to_string()));
    }
}

/// Where the action's content ends, the length of its closing delimiter, and whether it
/// trims what follows (` -}}`). Strings and comments may hold `}}`.
fn action_end(name: &str, inner: &str, line: usize) -> Result<(usize, usize, bool), Error> {
    let bytes = inner.as_bytes();
    let mut at = 0;
    if inner.trim_start().starts_with("/*") {
        let Some(end) = inner.find("*/") else { return Err(syntax(name, line, "unclosed comment")) };
        at = end + 2;
    }
    while at < bytes.len() {
        match bytes[at] {
            b'"' | b'`' | b'\'' => {
                let quote = bytes[at];
                at += 1;
                while at < bytes.len() && bytes[at] != quote {
                    if bytes[at] == b'\\' && quote != b'`' {
                        at += 1;
                    }
                    at += 1;
                }
                at += 1;
            }
            b'}' if bytes.get(at + 1) == Some(&b'}') => {
                let trims = at >= 2 && bytes[at - 1] == b'-' && bytes[at - 2].is_ascii_whitespace();
                return Ok(if trims { (at - 1, 3, true) } else { (at, 2, false) });
            }
            _ => at += 1,
        }
    }
    Err(syntax(name, line, "unclosed action"))
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `.a.b` from `text` (which starts with `.`): the field names and the length read.
fn fields(text: &str) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut at = 0;
    let chars: Vec<char> = text.chars().collect();
    let mut bytes = 0;
    while at < chars.len() && chars[at] == '.' {
        let start = at + 1;
        let mut end = start;
        while end < chars.len() && is_identifier_char(chars[end]) {
            end += 1;
        }
        if end == start {
            break;
        }
        names.push(chars[start..end].iter().collect());
        bytes += chars[at..end].iter().map(|c| c.len_utf8()).sum::<usize>();
        at = end;
    }
    (names, bytes)
}

fn tokens(name: &str, body: &str, line: usize) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let mut rest = body;
    // Fields right after `)` (no space between) are the group's: `(...).a`.
    let mut just_closed = false;
    while let Some(c) = rest.chars().next() {
        let after_close = just_closed && c == '.';
        just_closed = c == ')';
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let (token, used) = match c {
            '|' => (Token::Pipe, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            '=' => (Token::Assign, 1),
            ':' if rest.starts_with(":=") => (Token::Declare, 2),
            '.' if after_close => {
                let (names, used) = fields(rest);
                (Token::Chain(names), used.max(1))
            }
            '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => number(name, rest, line)?,
            '.' => {
                let (names, used) = fields(rest);
                (Token::Field(names), used.max(1))
            }
            '$' => {
                let end = rest[1..].find(|c: char| !is_identifier_char(c)).map_or(rest.len(), |at| at + 1);
                let (names, used) = fields(&rest[end..]);
                (Token::Variable(rest[..end].to_string(), names), end + used)
            }
            '"' => {
                let end = string_end(rest).ok_or_else(|| syntax(name, line, "unterminated quoted string"))?;
                let value: String = serde_json::from_str(&go_to_json_string(&rest[..end])).map_err(|_| syntax(name, line, format!("bad string {}", &rest[..end])))?;
                (Token::Literal(Value::String(value)), end)
            }
            '`' => {
                let end = rest[1..].find('`').ok_or_else(|| syntax(name, line, "unterminated raw string"))? + 2;
                (Token::Literal(Value::String(rest[1..end - 1].to_string())), end)
            }
            '\'' => {
                let end = rest[1..].find('\'').ok_or_else(|| syntax(name, line, "unterminated character constant"))? + 2;
                let inner = &rest[1..end - 1];
                let character = match inner {
                    "\\n" => '\n',
                    "\\t" => '\t',
                    "\\'" => '\'',
                    "\\\\" => '\\',
                    _ => inner.chars().next().ok_or_else(|| syntax(name, line, "empty character constant"))?,
                };
                (Token::Literal(Value::from(character as u32)), end)
            }
            '-' | '+' | '0'..='9' => number(name, rest, line)?,
            c if is_identifier_char(c) => {
                let end = rest.find(|c: char| !is_identifier_char(c)).unwrap_or(rest.len());
                let word = &rest[..end];
                let token = match word {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "nil" => Token::Literal(Value::Null),
                    _ => Token::Identifier(word.to_string()),
                };
                (token, end)
            }
            other => return Err(syntax(name, line, format!("unexpected {other:?} in action"))),
        };
        tokens.push(token);
        rest = &rest[used..];
    }
    Ok(tokens)
}

/// The end of a Go double-quoted string starting at `text`.
fn string_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// A Go string literal as a JSON one (the escapes JSON lacks: `\'`, `\a`, `\v`, `\x41`).
fn go_to_json_string(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\'') => out.push('\''),
            Some('a') => out.push_str("\\u0007"),
            Some('v') => out.push_str("\\u000b"),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push_str(&format!("\\u00{hex}"));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn number(name: &str, text: &str, line: usize) -> Result<(Token, usize), Error> {
    let end = text.char_indices().skip(1).find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || *c == '+' || *c == '-')).map_or(text.len(), |(at, _)| at);
    let mut literal = &text[..end];
    // `-` and `+` only belong to a number at its start or after an exponent.
    if let Some(cut) = literal.char_indices().skip(1).find(|(at, c)| (*c == '-' || *c == '+') && !matches!(literal.as_bytes()[at - 1], b'e' | b'E')).map(|(at, _)| at) {
        literal = &literal[..cut];
    }
    let clean = literal.replace('_', "");
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(digits) => (true, digits.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let integer = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    let value = match integer {
        Some(number) => Value::from(if negative { -number } else { number }),
        None => {
            let float: f64 = digits.parse().map_err(|_| syntax(name, line, format!("bad number syntax: {literal:?}")))?;
            serde_json::Number::from_f64(if negative { -float } else { float }).map(Value::Number).ok_or_else(|| syntax(name, line, format!("bad number {literal:?}")))?
        }
    };
    Ok((Token::Literal(value), literal.len()))
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    at: usize,
    defines: BTreeMap<String, Vec<Node>>,
}

/// What ended a list: `end` or `else` (with the tokens after `else`) and its line.
type Ending = Option<(String, usize)>;

impl Parser<'_> {
    fn error(&self, line: usize, message: &str) -> Error {
        syntax(self.name, line, message)
    }

    /// Nodes up to an `{{end}}` or `{{else ...}}` (left for the caller in `self.pending_else`).
    fn list(&mut self) -> Result<(Vec<Node>, Ending), Error> {
        let mut nodes = Vec::new();
        while self.at < self.items.len() {
            let item = self.items[self.at].clone();
            self.at += 1;
            let (tokens, line) = match item {
                Item::Text(text) => {
                    nodes.push(Node::Text(text));
                    continue;
                }
                Item::Action { tokens, line } => (tokens, line),
            };
            let keyword = match tokens.first() {
                Some(Token::Identifier(word)) => word.as_str(),
                _ => "",
            };
            match keyword {
                "end" => return Ok((nodes, Some(("end".into(), line)))),
                "else" => {
                    // The tokens after `else` (`if ...`, `with ...`) are kept for the caller.
                    self.at -= 1;
                    self.items[self.at] = Item::Action { tokens: tokens[1..].to_vec(), line };
                    return Ok((nodes, Some(("else".into(), line))));
                }
                "if" | "with" => nodes.push(self.conditional(keyword, &tokens[1..], line)?),
                "range" => {
                    let pipeline = self.pipeline(&tokens[1..], line, true)?;
                    let (body, end) = self.list()?;
                    let otherwise = self.otherwise(end, line, "range")?;
                    nodes.push(Node::Range { pipeline, body, otherwise });
                }
                "define" => {
                    let name = self.template_name(&tokens, line)?;
                    let (body, end) = self.list()?;
                    self.expect_end(end, line, "define")?;
                    self.defines.insert(name, body);
                }
                "block" => {
                    let name = self.template_name(&tokens, line)?;
                    let data = if tokens.len() > 2 { Some(self.pipeline(&tokens[2..], line, false)?) } else { None };
                    let (body, end) = self.list()?;
                    self.expect_end(end, line, "block")?;
                    self.defines.insert(name.clone(), body);
                    nodes.push(Node::Template { name, data });
                }
                "template" => {
                    let name = self.template_name(&tokens, line)?;
                    let data = if tokens.len() > 2 { Some(self.pipeline(&tokens[2..], line, false)?) } else { None };
                    nodes.push(Node::Template { name, data });
                }
                "break" => nodes.push(Node::Break),
                "continue" => nodes.push(Node::Continue),
                _ => nodes.push(Node::Action(self.pipeline(&tokens, line, false)?)),
            }
        }
        Ok((nodes, None))
    }

    fn template_name(&self, tokens: &[Token], line: usize) -> Result<String, Error> {
        match tokens.get(1) {
            Some(Token::Literal(Value::String(name))) => Ok(name.clone()),
            _ => Err(self.error(line, "a template's name must be a quoted string")),
        }
    }

    fn expect_end(&self, end: Ending, line: usize, what: &str) -> Result<(), Error> {
        match end {
            Some((keyword, _)) if keyword == "end" => Ok(()),
            Some((keyword, at)) => Err(self.error(at, &format!("unexpected {{{{{keyword}}}}} in {what}"))),
            None => Err(self.error(line, &format!("unexpected EOF: {{{{{what}}}}} has no {{{{end}}}}"))),
        }
    }

    /// The `{{else}} ... {{end}}` part, if any.
    fn otherwise(&mut self, end: Ending, line: usize, what: &str) -> Result<Vec<Node>, Error> {
        match end {
            Some((keyword, _)) if keyword == "else" => {
                self.at += 1;
                let (nodes, end) = self.list()?;
                self.expect_end(end, line, what)?;
                Ok(nodes)
            }
            end => {
                self.expect_end(end, line, what)?;
                Ok(Vec::new())
            }
        }
    }

    fn conditional(&mut self, keyword: &str, tokens: &[Token], line: usize) -> Result<Node, Error> {
        let mut branches = Vec::new();
        let mut pipeline = self.pipeline(tokens, line, false)?;
        let otherwise = loop {
            let (body, end) = self.list()?;
            branches.push((pipeline, body));
            match end {
                Some((ending, at)) if ending == "else" => {
                    let Item::Action { tokens, .. } = self.items[self.at].clone() else { unreachable!("else is an action") };
                    let chained = matches!(tokens.first(), Some(Token::Identifier(word)) if word == keyword);
                    if chained {
                        self.at += 1;
                        pipeline = self.pipeline(&tokens[1..], at, false)?;
                        continue;
                    }
                    if !tokens.is_empty() {
                        return Err(self.error(at, &format!("{{{{else}}}} in {{{{{keyword}}}}} can only be followed by {keyword}")));
                    }
                    break self.otherwise(Some((ending, at)), line, keyword)?;
                }
                end => {
                    self.expect_end(end, line, keyword)?;
                    break Vec::new();
                }
            }
        };
        Ok(if keyword == "if" { Node::If { branches, otherwise } } else { Node::With { branches, otherwise } })
    }

    fn pipeline(&self, tokens: &[Token], line: usize, range: bool) -> Result<Pipeline, Error> {
        let mut pipeline = Pipeline { line, ..Default::default() };
        let mut rest = tokens;
        // Declarations: `$x :=`, `$x =`, and in a range `$i, $v :=`.
        let declaration = rest.iter().position(|token| matches!(token, Token::Declare | Token::Assign));
        if let Some(at) = declaration {
            let names: Vec<&Token> = rest[..at].iter().filter(|token| !matches!(token, Token::Comma)).collect();
            let all_variables = !names.is_empty() && names.iter().all(|token| matches!(token, Token::Variable(_, fields) if fields.is_empty()));
            if all_variables && (names.len() == 1 || (range && names.len() == 2)) {
                pipeline.variables = names.iter().map(|token| if let Token::Variable(name, _) = token { name.clone() } else { String::new() }).collect();
                pipeline.assigns = matches!(rest[at], Token::Assign);
                rest = &rest[at + 1..];
            }
        }
        let (commands, used) = self.commands(rest, line)?;
        if used != rest.len() {
            return Err(self.error(line, "unexpected ) in pipeline"));
        }
        if commands.is_empty() {
            return Err(self.error(line, "missing value for command"));
        }
        pipeline.commands = commands;
        Ok(pipeline)
    }

    /// Commands up to the end or an unmatched `)`: the commands and the tokens read.
    fn commands(&self, tokens: &[Token], line: usize) -> Result<(Vec<Command>, usize), Error> {
        let mut commands = Vec::new();
        let mut operands = Vec::new();
        let mut at = 0;
        while at < tokens.len() {
            let operand = match &tokens[at] {
                Token::Close => break,
                Token::Pipe => {
                    if operands.is_empty() {
                        return Err(self.error(line, "missing command before |"));
                    }
                    commands.push(Command { operands: std::mem::take(&mut operands) });
                    at += 1;
                    continue;
                }
                Token::Open => {
                    let (inner, used) = self.commands(&tokens[at + 1..], line)?;
                    at += used + 1;
                    if !matches!(tokens.get(at), Some(Token::Close)) {
                        return Err(self.error(line, "unclosed left paren"));
                    }
                    let chain = match tokens.get(at + 1) {
                        Some(Token::Chain(names)) => {
                            at += 1;
                            names.clone()
                        }
                        _ => Vec::new(),
                    };
                    if inner.is_empty() {
                        return Err(self.error(line, "missing value in parentheses"));
                    }
                    Operand::Group(Box::new(Pipeline { commands: inner, line, ..Default::default() }), chain)
                }
                Token::Field(names) => Operand::Field(names.clone()),
                Token::Variable(name, names) => Operand::Variable(name.clone(), names.clone()),
                Token::Identifier(name) => Operand::Function(name.clone()),
                Token::Literal(value) => Operand::Literal(value.clone()),
                Token::Chain(_) | Token::Declare | Token::Assign | Token::Comma => return Err(self.error(line, "unexpected token in command")),
            };
            operands.push(operand);
            at += 1;
        }
        if !operands.is_empty() {
            commands.push(Command { operands });
        } else if !commands.is_empty() {
            return Err(self.error(line, "missing command after |"));
        }
        Ok((commands, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_markers_remove_the_whitespace_beside_them() {
        let parsed = parse("t", "a  \n  {{- 1 -}}  \n b {{/* gone */}}c").unwrap();
        let texts: Vec<&Node> = parsed.body.iter().filter(|node| matches!(node, Node::Text(_))).collect();
        assert_eq!(texts, vec![&Node::Text("a".into()), &Node::Text("b ".into()), &Node::Text("c".into())]);
    }

    #[test]
    fn control_structures_and_defines_nest() {
        let parsed = parse("t", r#"{{ define "x" }}{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}{{ end }}{{ range $i, $v := .list }}{{ $v }}{{ end }}{{ template "x" . }}"#).unwrap();
        assert!(matches!(&parsed.defines["x"][0], Node::If { branches, otherwise } if branches.len() == 2 && otherwise.len() == 1));
        assert!(matches!(&parsed.body[0], Node::Range { pipeline, .. } if pipeline.variables == vec!["$i".to_string(), "$v".to_string()]));
        assert!(matches!(&parsed.body[1], Node::Template { name, data: Some(_) } if name == "x"));
    }

    #[test]
    fn pipelines_groups_and_literals_parse() {
        let parsed = parse("t", r#"{{ $x := (include "n" $).a | quote | default "v\t" }}{{ -1.5 }}{{ 'a' }}{{ 0x10 }}"#).unwrap();
        let Node::Action(pipeline) = &parsed.body[0] else { panic!() };
        assert_eq!(pipeline.variables, vec!["$x".to_string()]);
        assert_eq!(pipeline.commands.len(), 3);
        assert!(matches!(&pipeline.commands[0].operands[0], Operand::Group(_, chain) if chain == &vec!["a".to_string()]));
        assert_eq!(pipeline.commands[2].operands[1], Operand::Literal(Value::String("v\t".into())));
        assert!(matches!(&parsed.body[1], Node::Action(p) if p.commands[0].operands[0] == Operand::Literal(serde_json::json!(-1.5))));
        assert!(matches!(&parsed.body[2], Node::Action(p) if p.commands[0].operands[0] == Operand::Literal(serde_json::json!(97))));
        assert!(matches!(&parsed.body[3], Node::Action(p) if p.commands[0].operands[0] == Operand::Literal(serde_json::json!(16))));
    }

    #[test]
    fn mistakes_name_the_line() {
        assert_eq!(parse("chart/t.yaml", "a\n{{ if .x }}").unwrap_err().to_string(), "chart/t.yaml:2: unexpected EOF: {{if}} has no {{end}}");
        assert!(parse("t", "{{ end }}").unwrap_err().to_string().contains("unexpected {{end}}"));
        assert!(parse("t", "{{ .a ").unwrap_err().to_string().contains("unclosed action"));
        assert!(parse("t", "{{ (1 }}").unwrap_err().to_string().contains("unclosed left paren"));
    }
}
