//! The resource bounds: every way to make an expression long, deep, slow or huge must end in
//! the matching error, never in a crash, a hang or an out-of-memory.

use serde_json::{Value, json};

use super::super::{Error, Limits, NoFunctions, evaluate, parse};
use super::{eval, ok};

/// Default limits except the length, so the depth limit is what stops huge inputs.
fn unbounded_length() -> Limits {
    Limits { max_length: usize::MAX, ..Limits::default() }
}

fn evaluate_with(expression: &str, root: &Value, limits: &Limits) -> Result<Value, Error> {
    evaluate(expression, root, &NoFunctions, limits)
}

/// `{1, 2, ..., n}`
fn inline_list(n: usize) -> String {
    format!("{{{}}}", (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
}

#[test]
fn too_long_is_refused_before_lexing() {
    let long = format!("{}1", "1+".repeat(5_000));
    assert_eq!(eval(&long).err(), Some(Error::TooLong { length: 10_001, limit: 10_000 }));
    // Multi-byte characters count as one each.
    let accented = format!("'{}'", "é".repeat(9_998));
    assert_eq!(ok(&accented).as_str().map(|text| text.chars().count()), Some(9_998));
    // A long flat run is fine: runs are not nested in the tree.
    let sum = format!("{}1", "1+".repeat(4_999));
    assert_eq!(ok(&sum), json!(5_000));
    let chain = format!("trigger{}", ".toString()".repeat(900));
    assert!(eval(&chain).is_ok());
}

#[test]
fn nesting_is_refused_before_it_can_overflow_the_stack() {
    let limits = unbounded_length();
    let too_deep = |expression: &str| match parse(expression, &limits) {
        Err(Error::TooDeep { limit, .. }) => limit == 64,
        other => panic!("expected TooDeep, got {other:?}"),
    };
    assert!(too_deep(&"(".repeat(100_000)));
    assert!(too_deep(&"[".repeat(100_000)));
    assert!(too_deep(&format!("{}true", "!".repeat(100_000))));
    assert!(too_deep(&format!("{}1", "- ".repeat(100_000))));
    assert!(too_deep(&format!("{}1", "not ".repeat(100_000))));
    assert!(too_deep(&"{".repeat(100_000)));
    assert!(too_deep(&"a.?[".repeat(100_000)));
    assert!(too_deep(&"#f(".repeat(100_000)));
    assert!(too_deep(&"true ? ".repeat(100_000)));
    assert!(too_deep(&"a ?: ".repeat(100_000)));
    // `--` is the (refused) decrement operator: still an error, not a crash.
    assert!(matches!(parse(&"-".repeat(100_000), &limits), Err(Error::NotAllowed { .. })));
    // The limit itself: the whole expression is one level, each parenthesis one more.
    let nested = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(ok(&nested(63)), json!(1));
    assert!(matches!(eval(&nested(64)), Err(Error::TooDeep { position: 64, limit: 64 })));
}

#[test]
fn the_deepest_expressions_fit_in_a_small_stack() {
    // Tokio's worker threads have 2 MiB of stack; half of that must do, even unoptimized (an
    // optimized build needs under 256 KiB).
    let worker = std::thread::Builder::new().stack_size(1024 * 1024).spawn(|| {
        // With the whole expression as the first level, 63 more reach the limit of 64.
        let levels = 63;
        let wrapped =
            |open: &str, inner: &str, close: &str| format!("{}{inner}{}", open.repeat(levels), close.repeat(levels));
        [
            wrapped("(", "1", ")"),
            wrapped("{1}.![", "#this", "]"),
            wrapped("{true}.?[", "true", "].size() == 1"),
            wrapped("'a'.concat(", "'b'", ")"),
            wrapped("#toInt(", "1", ")"),
            wrapped("T(Math).abs(", "1", ")"),
            wrapped("{", "1", "}"),
            wrapped("{0}[", "0", "]"),
            wrapped("true ? ", "1", " : 0"),
            wrapped("!", "true", ""),
            wrapped("- ", "1", ""),
            wrapped("nothing ?: ", "1", ""),
            wrapped("1 + (", "1", ")"),
        ]
        .iter()
        .map(|expression| eval(expression).map(|_| ()).map_err(|error| format!("{expression}: {error}")))
        .collect::<Result<Vec<()>, String>>()
    });
    let outcome = worker.expect("spawns").join().expect("no stack overflow");
    assert_eq!(outcome.map(|all| all.len()), Ok(13));
}

#[test]
fn too_costly_stops_the_evaluation() {
    let list = inline_list(100);
    let cubed = format!("{list}.![{list}.![{list}.![#this]]]");
    assert_eq!(eval(&cubed).err(), Some(Error::TooCostly { limit: 100_000 }));

    let root = json!({"items": (0..200_000).collect::<Vec<_>>()});
    let limits = Limits::default();
    assert_eq!(evaluate_with("items.?[#this < 0]", &root, &limits).err(), Some(Error::TooCostly { limit: 100_000 }));
    assert_eq!(evaluate_with("items.contains(-1)", &root, &limits).err(), Some(Error::TooCostly { limit: 100_000 }));
    assert_eq!(evaluate_with("items == #root.items", &root, &limits).err(), Some(Error::TooCostly { limit: 100_000 }));
    // Copying is paid for: the list itself may be read, not duplicated without limit.
    assert_eq!(evaluate_with("items.size()", &root, &limits), Ok(json!(200_000)));
    assert_eq!(evaluate_with("{items}", &root, &limits).map(|_| ()), Ok(()));
    assert_eq!(evaluate_with("{items, items}", &root, &limits).err(), Some(Error::TooCostly { limit: 100_000 }));

    let tight = Limits { max_steps: 10, ..Limits::default() };
    assert_eq!(
        evaluate_with("1+1+1+1+1+1+1+1+1+1+1+1", &json!({}), &tight).err(),
        Some(Error::TooCostly { limit: 10 })
    );
    assert_eq!(evaluate_with("1+1", &json!({}), &tight), Ok(json!(2)));
}

#[test]
fn scanning_big_strings_costs_steps() {
    let root = json!({"big": "x".repeat(1 << 20)});
    let limits = Limits::default();
    // One scan of a megabyte is fine; a hundred are not.
    assert_eq!(evaluate_with("big.length()", &root, &limits), Ok(json!(1 << 20)));
    let scans = format!("{}.![#root.big.contains('y')]", inline_list(100));
    assert_eq!(evaluate_with(&scans, &root, &limits).err(), Some(Error::TooCostly { limit: 100_000 }));
}

#[test]
fn too_large_results_are_refused() {
    let string_limit = Error::TooLarge { what: "a string's length in bytes", limit: 1 << 20 };
    let item_limit = Error::TooLarge { what: "a list's or map's number of items", limit: 10_000 };

    let growing = format!("'xxxxxxxxxx'{}", ".replace('x', 'xxxxxxxxxx')".repeat(6));
    assert_eq!(eval(&growing).err(), Some(string_limit.clone()));

    // Each #toJson escapes the quotes and backslashes of the previous one.
    let nested_json = format!("{}'\"'{}", "#toJson(".repeat(40), ")".repeat(40));
    assert_eq!(eval(&nested_json).err(), Some(string_limit.clone()));

    let root = json!({
        "half": "y".repeat(600_000),
        "most": "z".repeat(900_000),
        "csv": vec!["a"; 20_000].join(","),
        "many": vec![1; 20_000],
    });
    let limits = Limits::default();
    assert_eq!(evaluate_with("half + half", &root, &limits).err(), Some(string_limit.clone()));
    assert_eq!(evaluate_with("{1}.![#root.half + #root.half]", &root, &limits).err(), Some(string_limit.clone()));
    assert_eq!(evaluate_with("half.concat(half)", &root, &limits).err(), Some(string_limit.clone()));
    assert_eq!(evaluate_with("#toBase64(most)", &root, &limits).err(), Some(string_limit.clone()));
    assert_eq!(evaluate_with("'' + {half, half}", &root, &limits).err(), Some(string_limit));
    assert_eq!(evaluate_with("csv.split(',')", &root, &limits).err(), Some(item_limit.clone()));
    assert_eq!(evaluate_with("many.![#this]", &root, &limits).err(), Some(item_limit.clone()));
    assert_eq!(evaluate_with("#readJson(#toJson(many))", &root, &limits), Err(item_limit));
    assert!(matches!(eval("'ab' * 1000"), Err(Error::TooLarge { limit: 256, .. })));

    let tight = Limits { max_string: 10, max_items: 2, ..Limits::default() };
    assert!(matches!(evaluate_with("'abcdef' + 'ghijkl'", &json!({}), &tight), Err(Error::TooLarge { limit: 10, .. })));
    assert!(matches!(evaluate_with("{1, 2, 3}", &json!({}), &tight), Err(Error::TooLarge { limit: 2, .. })));
    assert_eq!(evaluate_with("{1, 2}", &json!({}), &tight), Ok(json!([1, 2])));
}

#[test]
fn no_input_panics() {
    // Every prefix of expressions that exercise each feature: truncated input, half-open
    // strings and multi-byte characters must give a value or an error, never a panic.
    let expressions = [
        "execution.stages.?[name == 'Wébhook'][0]?.status.substring(1, 3).toUpperCase()",
        "{a: 1, 'b': {1, 2.5e3, 0x1F, 7L}}.![key + '=' + value] matches \"k.*\"",
        "T(java.lang.Math).max(new Integer('1'), -2 ^ 3) % 0 ?: #toJson(#root)['x']",
        "'ü€𝄞'.charAt(2) + 'ü€𝄞'.indexOf('𝄞') + 'ü€𝄞'.split('€') + 'x'.replaceAll('(x)', '$1$')",
        "parameters.$[value > 1] != null and !(trigger?.tag lt 'z') || #fromBase64('8J+agA==')",
    ];
    let root = json!({"trigger": {"tag": "é"}, "parameters": {"a": "1"}, "execution": {"stages": [{"name": 1}]}});
    for expression in expressions {
        let chars: Vec<char> = expression.chars().collect();
        for end in 0..=chars.len() {
            let prefix: String = chars[..end].iter().collect();
            let _ = evaluate_with(&prefix, &root, &Limits::default());
        }
    }
}
