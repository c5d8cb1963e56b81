//! The operators, with Java's semantics where JSON allows them: integer arithmetic stays
//! integral (`7 / 2` is 3), mixing in a decimal makes a decimal, `+` with a string on either side
//! concatenates. Unlike Java, overflow and division by zero are errors rather than wrapping or
//! producing `Infinity` (JSON has no infinities), and nothing here panics.

use std::cmp::Ordering;

use serde_json::Value;

use super::Error;
use super::values::{Meter, Num, convert_to_string, describe, evaluate_error, string_too_long, type_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

/// Spring refuses `'text' * n` beyond this many characters (`OpMultiply.MAX_REPEATED_TEXT_SIZE`).
const MAX_REPEATED_TEXT: usize = 256;

pub(super) fn arithmetic(op: ArithOp, left: &Value, right: &Value, max_string: usize) -> Result<Value, Error> {
    if let (Some(a), Some(b)) = (Num::of(left), Num::of(right)) {
        return numeric(op, a, b)?.into_value();
    }
    match (op, left, right) {
        (ArithOp::Add, Value::String(_), _) | (ArithOp::Add, _, Value::String(_)) => {
            // Spring turns the other side into text (null becomes "null").
            let left = convert_to_string(left, max_string)?;
            let right = convert_to_string(right, max_string)?;
            if left.len().saturating_add(right.len()) > max_string {
                return Err(string_too_long(max_string));
            }
            Ok(Value::String(left + &right))
        }
        (ArithOp::Mul, Value::String(text), Value::Number(_)) => repeat(text, right),
        _ => Err(evaluate_error(format!(
            "the operator '{}' cannot be applied to {} and {}",
            op.symbol(),
            type_name(left),
            type_name(right)
        ))),
    }
}

fn repeat(text: &str, count: &Value) -> Result<Value, Error> {
    let Some(Num::Int(count)) = Num::of(count) else {
        return Err(evaluate_error("a string can only be repeated a whole number of times"));
    };
    let count =
        usize::try_from(count).map_err(|_| evaluate_error("a string cannot be repeated a negative number of times"))?;
    let chars = text.chars().count();
    if chars.saturating_mul(count) > MAX_REPEATED_TEXT {
        return Err(Error::TooLarge { what: "a repeated string's length in characters", limit: MAX_REPEATED_TEXT });
    }
    Ok(Value::String(text.repeat(count)))
}

pub(super) fn numeric(op: ArithOp, left: Num, right: Num) -> Result<Num, Error> {
    match (left, right) {
        (Num::Int(a), Num::Int(b)) => {
            let result = match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div if b == 0 => return Err(evaluate_error("division by zero")),
                ArithOp::Div => a.checked_div(b),
                ArithOp::Rem if b == 0 => return Err(evaluate_error("division by zero")),
                // i64::MIN % -1 is 0 mathematically; checked_rem would call it overflow.
                ArithOp::Rem => Some(a.wrapping_rem(b)),
            };
            result.map(Num::Int).ok_or_else(|| evaluate_error(format!("integer overflow in {a} {} {b}", op.symbol())))
        }
        _ => {
            let (a, b) = (left.as_f64(), right.as_f64());
            if matches!(op, ArithOp::Div | ArithOp::Rem) && b == 0.0 {
                return Err(evaluate_error("division by zero"));
            }
            Ok(Num::Float(match op {
                ArithOp::Add => a + b,
                ArithOp::Sub => a - b,
                ArithOp::Mul => a * b,
                ArithOp::Div => a / b,
                ArithOp::Rem => a % b,
            }))
        }
    }
}

/// `a ^ b`. Integers stay integers (a negative exponent truncates, like Java's
/// `(long) Math.pow(a, b)`); overflow is an error.
pub(super) fn power(base: &Value, exponent: &Value) -> Result<Value, Error> {
    let (Some(base), Some(exponent)) = (Num::of(base), Num::of(exponent)) else {
        return Err(evaluate_error(format!(
            "the operator '^' cannot be applied to {} and {}",
            type_name(base),
            type_name(exponent)
        )));
    };
    let result = match (base, exponent) {
        (Num::Int(a), Num::Int(b)) if b >= 0 => {
            let raised = match u32::try_from(b) {
                Ok(b) => a.checked_pow(b),
                Err(_) if a == 0 || a == 1 => Some(a),
                Err(_) if a == -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
                Err(_) => None,
            };
            Num::Int(raised.ok_or_else(|| evaluate_error(format!("integer overflow in {a} ^ {b}")))?)
        }
        (Num::Int(a), Num::Int(b)) => {
            let raised = (a as f64).powf(b as f64);
            if !raised.is_finite() {
                return Err(evaluate_error("division by zero"));
            }
            // Saturating and exact here: |raised| <= 1.
            Num::Int(raised.trunc() as i64)
        }
        (a, b) => Num::Float(a.as_f64().powf(b.as_f64())),
    };
    result.into_value()
}

pub(super) fn negate(value: &Value) -> Result<Value, Error> {
    match Num::of(value) {
        Some(Num::Int(a)) => {
            a.checked_neg().map(Value::from).ok_or_else(|| evaluate_error(format!("integer overflow in -({a})")))
        }
        Some(Num::Float(a)) => Num::Float(-a).into_value(),
        None => Err(evaluate_error(format!("unary '-' needs a number, not {}", type_name(value)))),
    }
}

pub(super) fn unary_plus(value: &Value) -> Result<(), Error> {
    match Num::of(value) {
        Some(_) => Ok(()),
        None => Err(evaluate_error(format!("unary '+' needs a number, not {}", type_name(value)))),
    }
}

/// Ordering for `< > <= >=`: Spring's `StandardTypeComparator`. Null sorts before everything;
/// numbers compare by value; strings and booleans among themselves; anything else is an error.
pub(super) fn compare(left: &Value, right: &Value) -> Result<Ordering, Error> {
    Ok(match (left, right) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(_), Value::Number(_)) => match (Num::of(left), Num::of(right)) {
            (Some(Num::Int(a)), Some(Num::Int(b))) => a.cmp(&b),
            (Some(a), Some(b)) => a.as_f64().partial_cmp(&b.as_f64()).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        },
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => {
            return Err(evaluate_error(format!("cannot compare {} with {}", type_name(left), type_name(right))));
        }
    })
}

/// `==`: numbers by value (`1 == 1.0`), lists and maps deeply, different types are unequal
/// (`'1' == 1` is false, as in Spring). Every node visited is metered.
pub(super) fn equals(left: &Value, right: &Value, meter: &mut Meter) -> Result<bool, Error> {
    meter.charge(1)?;
    Ok(match (left, right) {
        (Value::Number(_), Value::Number(_)) => match (Num::of(left), Num::of(right)) {
            (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
            (Some(a), Some(b)) => a.as_f64() == b.as_f64(),
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Ok(false);
            }
            for (x, y) in a.iter().zip(b) {
                if !equals(x, y, meter)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() {
                return Ok(false);
            }
            for (key, x) in a {
                match b.get(key) {
                    Some(y) if equals(x, y, meter)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (Value::String(a), Value::String(b)) => {
            meter.charge_bytes(a.len().min(b.len()))?;
            a == b
        }
        _ => left == right,
    })
}

/// A condition's value as Spring converts it to `boolean`: booleans, and the strings
/// true/on/yes/1 and false/off/no/0 in any case; `role` names the operand in the error.
pub(super) fn to_boolean(value: &Value, role: &str) -> Result<bool, Error> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        // Only short words convert: no copy of a long string is made to find that out.
        Value::String(text) => match text.trim() {
            word if word.len() <= 5 && ["true", "on", "yes", "1"].iter().any(|w| word.eq_ignore_ascii_case(w)) => {
                Ok(true)
            }
            word if word.len() <= 5 && ["false", "off", "no", "0"].iter().any(|w| word.eq_ignore_ascii_case(w)) => {
                Ok(false)
            }
            _ => Err(evaluate_error(format!("{role} must be true or false, not the string {}", describe(value)))),
        },
        _ => Err(evaluate_error(format!("{role} must be true or false, not {}", type_name(value)))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn arith(op: ArithOp, a: Value, b: Value) -> Result<Value, Error> {
        arithmetic(op, &a, &b, 1024)
    }

    #[test]
    fn integer_arithmetic_is_checked() {
        assert_eq!(arith(ArithOp::Div, json!(7), json!(2)), Ok(json!(3)));
        assert_eq!(arith(ArithOp::Div, json!(-7), json!(2)), Ok(json!(-3)));
        assert_eq!(arith(ArithOp::Rem, json!(-7), json!(2)), Ok(json!(-1)));
        assert_eq!(arith(ArithOp::Rem, json!(i64::MIN), json!(-1)), Ok(json!(0)));
        assert!(arith(ArithOp::Div, json!(i64::MIN), json!(-1)).is_err());
        assert!(arith(ArithOp::Add, json!(i64::MAX), json!(1)).is_err());
        assert!(arith(ArithOp::Div, json!(1), json!(0)).is_err());
        assert!(arith(ArithOp::Div, json!(1.5), json!(0)).is_err());
        assert_eq!(arith(ArithOp::Div, json!(7.0), json!(2)), Ok(json!(3.5)));
    }

    #[test]
    fn concatenation_and_repetition() {
        assert_eq!(arith(ArithOp::Add, json!("a"), json!(1)), Ok(json!("a1")));
        assert_eq!(arith(ArithOp::Add, json!(null), json!("b")), Ok(json!("nullb")));
        assert_eq!(arith(ArithOp::Add, json!("x"), json!(1.0)), Ok(json!("x1.0")));
        assert_eq!(arith(ArithOp::Mul, json!("ab"), json!(3)), Ok(json!("ababab")));
        assert!(arith(ArithOp::Mul, json!("ab"), json!(1000)).is_err());
        assert!(arith(ArithOp::Add, json!([1]), json!(1)).is_err());
        assert!(matches!(arithmetic(ArithOp::Add, &json!("aaaa"), &json!("bbbb"), 6), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn power_follows_java() {
        assert_eq!(power(&json!(2), &json!(10)), Ok(json!(1024)));
        assert_eq!(power(&json!(2), &json!(-1)), Ok(json!(0)));
        assert_eq!(power(&json!(2.0), &json!(0.5)), Ok(json!(2f64.sqrt())));
        assert!(power(&json!(10), &json!(40)).is_err());
        assert!(power(&json!(0), &json!(-1)).is_err());
        assert_eq!(power(&json!(1), &json!(i64::MAX)), Ok(json!(1)));
    }

    #[test]
    fn comparison_and_equality() {
        assert_eq!(compare(&json!(1), &json!(1.5)), Ok(Ordering::Less));
        assert_eq!(compare(&json!(null), &json!(0)), Ok(Ordering::Less));
        assert_eq!(compare(&json!("b"), &json!("a")), Ok(Ordering::Greater));
        assert!(compare(&json!("1"), &json!(1)).is_err());
        let mut meter = Meter::new(100);
        assert_eq!(equals(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]}), &mut meter), Ok(true));
        assert_eq!(equals(&json!("1"), &json!(1), &mut meter), Ok(false));
        let mut tight = Meter::new(2);
        assert!(matches!(equals(&json!([1, 2, 3]), &json!([1, 2, 3]), &mut tight), Err(Error::TooCostly { .. })));
    }

    #[test]
    fn conditions_convert_like_spring() {
        assert_eq!(to_boolean(&json!("Yes"), "x"), Ok(true));
        assert_eq!(to_boolean(&json!("off"), "x"), Ok(false));
        assert!(to_boolean(&json!(null), "x").is_err());
        assert!(to_boolean(&json!(1), "x").is_err());
    }
}
