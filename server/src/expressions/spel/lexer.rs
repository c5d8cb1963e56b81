//! Splits an expression into tokens, the way Spring's `Tokenizer` does: quoted strings with
//! doubled quotes as escapes, Java number literals (`42`, `42L`, `0x2A`, `1.5`, `1e3`, `2f`),
//! identifiers (letters, digits, `_`, `$`), the textual operators (`eq`, `div`, `not`, ...) and
//! the two-character symbols (`?.`, `?:`, `.?[`, `.^[`, `.$[`, `.![`). Iterative: no recursion.

use super::Error;

/// One token and the character position where it starts (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spanned {
    pub token: Token,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Int(i64),
    Real(f64),
    Str(String),
    Ident(String),
    Symbol(Symbol),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Symbol {
    Dot,
    SafeDot,
    Comma,
    Colon,
    LParen,
    RParen,
    LSquare,
    RSquare,
    LCurly,
    RCurly,
    Hash,
    Plus,
    Minus,
    Star,
    Div,
    Mod,
    Power,
    Not,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    AndAnd,
    OrOr,
    QMark,
    Elvis,
    Select,
    SelectFirst,
    SelectLast,
    Project,
    Assign,
    BeanRef,
    FactoryBeanRef,
    Inc,
    Dec,
}

impl Symbol {
    pub(super) fn text(self) -> &'static str {
        match self {
            Symbol::Dot => ".",
            Symbol::SafeDot => "?.",
            Symbol::Comma => ",",
            Symbol::Colon => ":",
            Symbol::LParen => "(",
            Symbol::RParen => ")",
            Symbol::LSquare => "[",
            Symbol::RSquare => "]",
            Symbol::LCurly => "{",
            Symbol::RCurly => "}",
            Symbol::Hash => "#",
            Symbol::Plus => "+",
            Symbol::Minus => "-",
            Symbol::Star => "*",
            Symbol::Div => "/",
            Symbol::Mod => "%",
            Symbol::Power => "^",
            Symbol::Not => "!",
            Symbol::Eq => "==",
            Symbol::Ne => "!=",
            Symbol::Lt => "<",
            Symbol::Gt => ">",
            Symbol::Le => "<=",
            Symbol::Ge => ">=",
            Symbol::AndAnd => "&&",
            Symbol::OrOr => "||",
            Symbol::QMark => "?",
            Symbol::Elvis => "?:",
            Symbol::Select => "?[",
            Symbol::SelectFirst => "^[",
            Symbol::SelectLast => "$[",
            Symbol::Project => "![",
            Symbol::Assign => "=",
            Symbol::BeanRef => "@",
            Symbol::FactoryBeanRef => "&",
            Symbol::Inc => "++",
            Symbol::Dec => "--",
        }
    }
}

/// Two-character symbols, tried before the one-character ones (Spring's `isTwoCharToken`).
const PAIRS: [(char, char, Symbol); 14] = [
    ('+', '+', Symbol::Inc),
    ('-', '-', Symbol::Dec),
    ('^', '[', Symbol::SelectFirst),
    ('!', '=', Symbol::Ne),
    ('!', '[', Symbol::Project),
    ('=', '=', Symbol::Eq),
    ('&', '&', Symbol::AndAnd),
    ('|', '|', Symbol::OrOr),
    ('?', '[', Symbol::Select),
    ('?', ':', Symbol::Elvis),
    ('?', '.', Symbol::SafeDot),
    ('$', '[', Symbol::SelectLast),
    ('>', '=', Symbol::Ge),
    ('<', '=', Symbol::Le),
];

fn single(ch: char) -> Option<Symbol> {
    Some(match ch {
        '+' => Symbol::Plus,
        '-' => Symbol::Minus,
        ':' => Symbol::Colon,
        '.' => Symbol::Dot,
        ',' => Symbol::Comma,
        '*' => Symbol::Star,
        '/' => Symbol::Div,
        '%' => Symbol::Mod,
        '(' => Symbol::LParen,
        ')' => Symbol::RParen,
        '[' => Symbol::LSquare,
        ']' => Symbol::RSquare,
        '{' => Symbol::LCurly,
        '}' => Symbol::RCurly,
        '#' => Symbol::Hash,
        '@' => Symbol::BeanRef,
        '^' => Symbol::Power,
        '!' => Symbol::Not,
        '=' => Symbol::Assign,
        '&' => Symbol::FactoryBeanRef,
        '?' => Symbol::QMark,
        '>' => Symbol::Gt,
        '<' => Symbol::Lt,
        _ => return None,
    })
}

/// Words that are operators, not names, whatever their case (Spring's
/// `ALTERNATIVE_OPERATOR_NAMES`; `and`, `or`, `matches` are recognised by the parser).
fn textual_operator(word: &str) -> Option<Symbol> {
    Some(match word.to_ascii_lowercase().as_str() {
        "div" => Symbol::Div,
        "eq" => Symbol::Eq,
        "ge" => Symbol::Ge,
        "gt" => Symbol::Gt,
        "le" => Symbol::Le,
        "lt" => Symbol::Lt,
        "mod" => Symbol::Mod,
        "ne" => Symbol::Ne,
        "not" => Symbol::Not,
        _ => return None,
    })
}

fn parse_error(position: usize, message: impl Into<String>) -> Error {
    Error::Parse { position, message: message.into() }
}

fn is_identifier_start(ch: char) -> bool {
    ch.is_alphabetic() || ch == '_' || ch == '$'
}

fn is_identifier_part(ch: char) -> bool {
    ch.is_alphabetic() || ch.is_ascii_digit() || ch == '_' || ch == '$'
}

pub(super) fn tokenize(chars: &[char]) -> Result<Vec<Spanned>, Error> {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        let start = pos;
        if matches!(ch, ' ' | '\t' | '\r' | '\n') {
            pos += 1;
            continue;
        }
        let token = if ch == '\'' || ch == '"' {
            let (text, end) = quoted(chars, pos)?;
            pos = end;
            Token::Str(text)
        } else if ch.is_ascii_digit() {
            let (token, end) = number(chars, pos)?;
            pos = end;
            token
        } else if let Some(&(_, _, symbol)) = PAIRS.iter().find(|(a, b, _)| *a == ch && *b == at(pos + 1)) {
            pos += 2;
            Token::Symbol(symbol)
        } else if is_identifier_start(ch) {
            while pos < chars.len() && is_identifier_part(chars[pos]) {
                pos += 1;
            }
            let word: String = chars[start..pos].iter().collect();
            match textual_operator(&word) {
                Some(symbol) => Token::Symbol(symbol),
                None => Token::Ident(word),
            }
        } else if let Some(symbol) = single(ch) {
            pos += 1;
            Token::Symbol(symbol)
        } else if ch == '|' {
            return Err(parse_error(start, "'|' must be doubled: use '||' or 'or'"));
        } else if ch == '\\' {
            return Err(parse_error(start, "unexpected escape character '\\'"));
        } else {
            return Err(parse_error(start, format!("unsupported character {ch:?}")));
        };
        tokens.push(Spanned { token, position: start });
    }
    Ok(tokens)
}

/// A '...' or "..." literal starting at `start`; the quote character doubled is one quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), Error> {
    let quote = chars[start];
    let mut text = String::new();
    let mut pos = start + 1;
    loop {
        match chars.get(pos) {
            None => return Err(parse_error(start, "string literal is not closed")),
            Some(&ch) if ch == quote => {
                if chars.get(pos + 1) == Some(&quote) {
                    text.push(quote);
                    pos += 2;
                } else {
                    return Ok((text, pos + 1));
                }
            }
            Some(&ch) => {
                text.push(ch);
                pos += 1;
            }
        }
    }
}

/// A Java number literal starting at `start`. `3.` followed by a non-digit is the integer 3 and
/// a dot, so `3.toString()` works as in Spring.
fn number(chars: &[char], start: usize) -> Result<(Token, usize), Error> {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let digits_from = |mut i: usize, accept: fn(char) -> bool| {
        while accept(at(i)) {
            i += 1;
        }
        i
    };
    if at(start) == '0' && matches!(at(start + 1), 'x' | 'X') {
        let end = digits_from(start + 2, |c| c.is_ascii_hexdigit());
        let hex: String = chars[start + 2..end].iter().collect();
        let value = i64::from_str_radix(&hex, 16)
            .map_err(|_| parse_error(start, format!("invalid hexadecimal number '0x{hex}'")))?;
        let end = if matches!(at(end), 'L' | 'l') { end + 1 } else { end };
        return Ok((Token::Int(value), end));
    }
    let mut end = digits_from(start, |c| c.is_ascii_digit());
    let mut real = false;
    if at(end) == '.' && at(end + 1).is_ascii_digit() {
        real = true;
        end = digits_from(end + 1, |c| c.is_ascii_digit());
    }
    if matches!(at(end), 'L' | 'l') {
        if real {
            return Err(parse_error(start, "a decimal number cannot have the 'L' suffix"));
        }
        let text: String = chars[start..end].iter().collect();
        return integer(&text, start).map(|token| (token, end + 1));
    }
    if matches!(at(end), 'e' | 'E') {
        real = true;
        let mut exponent = end + 1;
        if matches!(at(exponent), '+' | '-') {
            exponent += 1;
        }
        let after = digits_from(exponent, |c| c.is_ascii_digit());
        if after == exponent {
            return Err(parse_error(start, "the exponent of a number has no digits"));
        }
        end = after;
    }
    let text: String = chars[start..end].iter().collect();
    let suffixed = matches!(at(end), 'f' | 'F' | 'd' | 'D');
    let next = if suffixed { end + 1 } else { end };
    if real || suffixed {
        let value: f64 = text.parse().map_err(|_| parse_error(start, format!("invalid number '{text}'")))?;
        if !value.is_finite() {
            return Err(parse_error(start, format!("number '{text}' is too large")));
        }
        return Ok((Token::Real(value), next));
    }
    integer(&text, start).map(|token| (token, next))
}

fn integer(text: &str, start: usize) -> Result<Token, Error> {
    text.parse().map(Token::Int).map_err(|_| parse_error(start, format!("integer '{text}' is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Vec<Token> {
        let chars: Vec<char> = text.chars().collect();
        tokenize(&chars).expect("tokenizes").into_iter().map(|s| s.token).collect()
    }

    #[test]
    fn numbers_follow_java_literals() {
        assert_eq!(
            lex("42 42L 0x1F 1.5 1e3 2f 3."),
            vec![
                Token::Int(42),
                Token::Int(42),
                Token::Int(31),
                Token::Real(1.5),
                Token::Real(1000.0),
                Token::Real(2.0),
                Token::Int(3),
                Token::Symbol(Symbol::Dot),
            ]
        );
        assert!(matches!(tokenize(&['1', 'e']), Err(Error::Parse { .. })));
        let huge: Vec<char> = "99999999999999999999".chars().collect();
        assert!(matches!(tokenize(&huge), Err(Error::Parse { .. })));
    }

    #[test]
    fn strings_escape_by_doubling_the_quote() {
        assert_eq!(
            lex(r#"'it''s' "say ""hi""" 'a\b'"#),
            vec![Token::Str("it's".into()), Token::Str("say \"hi\"".into()), Token::Str("a\\b".into()),]
        );
        let open: Vec<char> = "'abc".chars().collect();
        assert_eq!(tokenize(&open), Err(Error::Parse { position: 0, message: "string literal is not closed".into() }));
    }

    #[test]
    fn symbols_and_textual_operators() {
        assert_eq!(
            lex("a?.b ?: x.?[y] NE z"),
            vec![
                Token::Ident("a".into()),
                Token::Symbol(Symbol::SafeDot),
                Token::Ident("b".into()),
                Token::Symbol(Symbol::Elvis),
                Token::Ident("x".into()),
                Token::Symbol(Symbol::Dot),
                Token::Symbol(Symbol::Select),
                Token::Ident("y".into()),
                Token::Symbol(Symbol::RSquare),
                Token::Symbol(Symbol::Ne),
                Token::Ident("z".into()),
            ]
        );
        assert!(matches!(tokenize(&['a', '|', 'b']), Err(Error::Parse { position: 1, .. })));
        assert!(matches!(tokenize(&['`']), Err(Error::Parse { .. })));
    }
}
