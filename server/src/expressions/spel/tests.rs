//! Tests through the public API: the expressions real pipelines use, then each feature.
//! The resource bounds have their own file, `tests/bounds.rs`.

mod bounds;

use serde_json::{Value, json};

use super::{Error, Limits, evaluate, evaluate_parsed, parse, to_text};

/// A root like the one the engine builds for a stage.
fn root() -> Value {
    json!({
        "trigger": {"type": "docker", "tag": "v1.2-rc_3", "buildNumber": 42, "ratio": 0.5},
        "parameters": {"env": "prod", "n": "41", "regions": "us-east-1,us-west-2", "flag": "yes", "empty": ""},
        "execution": {
            "id": "01HX",
            "application": "shop",
            "stages": [
                {"name": "Bake", "refId": "1", "status": "SUCCEEDED"},
                {"name": "Webhook", "refId": "2", "status": "RUNNING", "context": {"statusCode": 200}},
                {"name": "Webhook", "refId": "3", "status": "NOT_STARTED"}
            ]
        },
        "nothing": null
    })
}

/// The engine's functions, as a caller would register them.
fn engine(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    match (name, args) {
        ("stage", [Value::String(stage)]) if stage == "Deploy" => {
            Some(Ok(json!({"name": "Deploy", "status": "SUCCEEDED", "context": {"account": "prod"}})))
        }
        ("stage", [stage]) => Some(Err(format!("Unable to locate [{stage}] using #stage({stage})"))),
        ("judgment", [Value::String(stage)]) if stage == "Approve" => Some(Ok(json!("Ship it"))),
        ("stageByRefId", [Value::String(id)]) => Some(Ok(json!({"refId": id}))),
        _ => None,
    }
}

pub(super) fn eval(expression: &str) -> Result<Value, Error> {
    evaluate(expression, &root(), &engine, &Limits::default())
}

pub(super) fn ok(expression: &str) -> Value {
    eval(expression).unwrap_or_else(|error| panic!("{expression}: {error}"))
}

pub(super) fn fails(expression: &str) -> String {
    match eval(expression) {
        Ok(value) => panic!("{expression} should fail but gave {value}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn real_world_expressions() {
    assert_eq!(ok("trigger['tag']"), json!("v1.2-rc_3"));
    assert_eq!(ok("#stage('Deploy')['status'].toString() == 'SUCCEEDED'"), json!(true));
    assert_eq!(ok("#judgment('Approve')"), json!("Ship it"));
    assert_eq!(ok("new Integer(parameters['n']) + 1"), json!(42));
    assert_eq!(ok("execution.stages.?[name == 'Webhook'][0].status"), json!("RUNNING"));
    assert_eq!(ok("parameters['env'] == 'prod' ? 1 : 0"), json!(1));
    assert_eq!(
        ok("#toJson(parameters)"),
        json!(r#"{"empty":"","env":"prod","flag":"yes","n":"41","regions":"us-east-1,us-west-2"}"#)
    );
    assert_eq!(ok("#alphanumerical(trigger.tag)"), json!("v12rc3"));
    assert_eq!(ok("parameters.regions.split(',')"), json!(["us-east-1", "us-west-2"]));
    assert_eq!(ok("#stage('Deploy').context.account"), json!("prod"));
    assert_eq!(ok("#stageByRefId('2').refId"), json!("2"));
}

#[test]
fn caller_functions_errors_name_the_function() {
    assert_eq!(fails("#stage('Nope')"), "#stage() failed: Unable to locate [\"Nope\"] using #stage(\"Nope\")");
    assert_eq!(fails("#deployedServerGroups()"), "unknown function #deployedServerGroups");
    assert_eq!(fails("#toInt('x')"), "#toInt() failed: cannot convert 'x' to an Integer");
    assert_eq!(fails("#toJson(1, 2)"), "#toJson() failed: takes 1 argument, not 2");
}

#[test]
fn literals() {
    assert_eq!(ok("42"), json!(42));
    assert_eq!(ok("1.5"), json!(1.5));
    assert_eq!(ok("'it''s'"), json!("it's"));
    assert_eq!(ok("\"double \"\"quoted\"\"\""), json!("double \"quoted\""));
    assert_eq!(ok("true"), json!(true));
    assert_eq!(ok("FALSE"), json!(false));
    assert_eq!(ok("null"), json!(null));
    assert_eq!(ok("{1, 'two', {3}}"), json!([1, "two", [3]]));
    assert_eq!(ok("{a: 1, 'b': 2, 'c' + 1: trigger.type}"), json!({"a": 1, "b": 2, "c1": "docker"}));
    assert_eq!(ok("{}"), json!([]));
    assert_eq!(ok("{:}"), json!({}));
}

#[test]
fn names_and_variables() {
    assert_eq!(ok("trigger.buildNumber"), json!(42));
    assert_eq!(ok("#root.parameters.env"), json!("prod"));
    assert_eq!(ok("#this.parameters.env"), json!("prod"));
    // Missing keys are null, like Orca's stage evaluation (allowUnknownKeys).
    assert_eq!(ok("trigger.nope"), json!(null));
    assert_eq!(ok("nope"), json!(null));
    assert_eq!(ok("trigger['nope']"), json!(null));
    assert_eq!(fails("trigger.nope.deeper"), "cannot read property 'deeper' of null (use '?.' to get null instead)");
    assert_eq!(ok("trigger.nope?.deeper"), json!(null));
    assert_eq!(ok("nothing?.a?.b"), json!(null));
    assert!(fails("#nope").contains("unknown variable #nope: only #root and #this exist"));
}

#[test]
fn indexing() {
    assert_eq!(ok("trigger[\"type\"]"), json!("docker"));
    assert_eq!(ok("trigger[type]"), json!("docker"), "a bare name indexing a map is the key (Spring)");
    assert_eq!(ok("execution.stages[1].name"), json!("Webhook"));
    assert_eq!(ok("execution.stages['2'].refId"), json!("3"));
    assert_eq!(ok("{10, 20}[1]"), json!(20));
    assert_eq!(ok("'abc'[1]"), json!("b"));
    assert_eq!(fails("{1, 2}[-1]"), "index -1 is out of range for a list of 2");
    assert_eq!(fails("{1, 2}[2]"), "index 2 is out of range for a list of 2");
    assert_eq!(fails("'abc'[3]"), "index 3 is out of range for a string of 3");
    assert_eq!(fails("nothing[0]"), "cannot index into null (use '?.[' to get null instead)");
    assert_eq!(ok("nothing?.[0]"), json!(null));
    assert_eq!(fails("trigger.buildNumber[0]"), "cannot index into an integer");
    assert_eq!(
        fails("execution.stages.name"),
        "cannot read property 'name' of a list (to read it from every item use '.![name]')"
    );
}

#[test]
fn selection_and_projection() {
    assert_eq!(ok("execution.stages.?[name == 'Webhook'].![refId]"), json!(["2", "3"]));
    assert_eq!(ok("execution.stages.^[name == 'Webhook'].refId"), json!("2"));
    assert_eq!(ok("execution.stages.$[name == 'Webhook'].refId"), json!("3"));
    assert_eq!(ok("execution.stages.^[name == 'Deploy']"), json!(null));
    assert_eq!(ok("execution.stages.?[name == 'Deploy']"), json!([]));
    assert_eq!(ok("{1, 2, 3, 4}.?[#this % 2 == 0]"), json!([2, 4]));
    assert_eq!(ok("{1, 2, 3}.![#this * 10]"), json!([10, 20, 30]));
    assert_eq!(ok("execution.stages.![context?.statusCode]"), json!([null, 200, null]));
    // Arguments and indexes see the element and the root as in Spring.
    assert_eq!(
        ok("execution.stages.?[refId.equals(#root.trigger.buildNumber.toString().substring(1))].![name]"),
        json!(["Webhook"])
    );
    // Maps: entries with key and value.
    assert_eq!(ok("parameters.?[value.length() > 3].![key]"), json!(["env", "regions"]));
    assert_eq!(ok("parameters.?[key.startsWith('e')]"), json!({"empty": "", "env": "prod"}));
    assert_eq!(ok("parameters.^[key.startsWith('e')]"), json!({"empty": ""}));
    assert_eq!(ok("parameters.$[key.startsWith('e')]"), json!({"env": "prod"}));
    assert_eq!(ok("trigger.![key]"), json!(["buildNumber", "ratio", "tag", "type"]));
    assert_eq!(ok("{a: 1}.![#this]"), json!([{"key": "a", "value": 1}]));
    assert_eq!(fails("{1, 2}.?[#this]"), "a selection's criterion must be true or false, not an integer");
    assert_eq!(fails("nothing.![x]"), "cannot project null (use '?.' to get null instead)");
    assert_eq!(ok("nothing?.![x]"), json!(null));
    assert_eq!(fails("'abc'.?[true]"), "selection needs a list or a map, not a string");
    assert_eq!(fails("{a: 1}.?[other]"), "a map entry has only 'key' and 'value', not 'other'");
}

#[test]
fn arithmetic() {
    assert_eq!(ok("1 + 2 * 3"), json!(7));
    assert_eq!(ok("(1 + 2) * 3"), json!(9));
    assert_eq!(ok("10 - 4 - 3"), json!(3));
    assert_eq!(ok("7 / 2"), json!(3));
    assert_eq!(ok("7.0 / 2"), json!(3.5));
    assert_eq!(ok("7 % 3"), json!(1));
    assert_eq!(ok("7 div 2 + 7 mod 2"), json!(4));
    assert_eq!(ok("2 ^ 10"), json!(1024));
    assert_eq!(ok("-2 ^ 2"), json!(4), "unary minus binds tighter than ^ in Spring");
    assert_eq!(ok("-trigger.buildNumber"), json!(-42));
    assert_eq!(ok("+3"), json!(3));
    assert_eq!(ok("trigger.ratio * 4"), json!(2.0));
    assert_eq!(fails("1 / 0"), "division by zero");
    assert_eq!(fails("(-9223372036854775807 - 1) / -1"), "integer overflow in -9223372036854775808 / -1");
    assert_eq!(fails("9223372036854775807 * 2"), "integer overflow in 9223372036854775807 * 2");
    assert_eq!(fails("{1} - 1"), "the operator '-' cannot be applied to a list and an integer");
}

#[test]
fn strings_concatenate_with_anything() {
    assert_eq!(ok("'build-' + trigger.buildNumber"), json!("build-42"));
    assert_eq!(ok("trigger.ratio + 'x'"), json!("0.5x"));
    assert_eq!(ok("'a' + nothing"), json!("anull"));
    assert_eq!(ok("'list: ' + {1, 2}"), json!("list: 1,2"));
    assert_eq!(ok("'ab' * 2"), json!("abab"));
}

#[test]
fn logic_and_comparison() {
    assert_eq!(ok("1 < 2 and 2 <= 2 && 3 > 2 and 3 >= 3"), json!(true));
    assert_eq!(ok("1 lt 2 and 2 le 2 and 3 gt 2 and 3 ge 3 and 1 eq 1 and 1 ne 2"), json!(true));
    assert_eq!(ok("1 == 1.0"), json!(true));
    assert_eq!(ok("'1' == 1"), json!(false));
    assert_eq!(ok("{1, {a: 2}} == {1, {a: 2}}"), json!(true));
    assert_eq!(ok("nothing == null"), json!(true));
    assert_eq!(ok("'b' > 'a'"), json!(true));
    assert_eq!(fails("'1' < 2"), "cannot compare a string with an integer");
    assert_eq!(ok("!true or not false"), json!(true));
    assert_eq!(ok("false || false"), json!(false));
    // Short-circuit: the unknown function is never called.
    assert_eq!(ok("false and #boom()"), json!(false));
    assert_eq!(ok("true or #boom()"), json!(true));
    // Spring converts strings to booleans in conditions.
    assert_eq!(ok("parameters.flag and 'TRUE'"), json!(true));
    assert_eq!(fails("nothing and true"), "an operand of 'and' must be true or false, not null");
    assert_eq!(fails("1 ? 2 : 3"), "the condition of '? :' must be true or false, not an integer");
    assert_eq!(ok("trigger.buildNumber > 40 ? 'big' : 'small'"), json!("big"));
    assert_eq!(ok("nothing ?: 'fallback'"), json!("fallback"));
    assert_eq!(ok("parameters.empty ?: 'fallback'"), json!("fallback"));
    assert_eq!(ok("parameters.env ?: 'fallback'"), json!("prod"));
    assert_eq!(ok("trigger.tag matches 'v\\d+\\.\\d+.*'"), json!(true));
    assert_eq!(ok("trigger.tag matches '\\d+'"), json!(false), "matches needs the whole string");
    assert_eq!(fails("nothing matches 'x'"), "'matches' needs a string on both sides, not null and a string");
    assert!(fails("'a' matches '(?<=a)b'").starts_with("invalid regular expression '(?<=a)b'"));
}

#[test]
fn methods_on_strings() {
    for (expression, expected) in [
        ("trigger.tag.toString()", json!("v1.2-rc_3")),
        ("trigger.tag.toUpperCase()", json!("V1.2-RC_3")),
        ("'ABC'.toLowerCase()", json!("abc")),
        ("'  x \t'.trim()", json!("x")),
        ("trigger.tag.length()", json!(9)),
        ("parameters.empty.isEmpty()", json!(true)),
        ("trigger.tag.contains('rc')", json!(true)),
        ("trigger.tag.startsWith('v1')", json!(true)),
        ("trigger.tag.endsWith('_3')", json!(true)),
        ("trigger.tag.indexOf('-')", json!(4)),
        ("trigger.tag.indexOf('zz')", json!(-1)),
        ("'héllo'.indexOf('l')", json!(2)),
        ("trigger.tag.substring(1)", json!("1.2-rc_3")),
        ("trigger.tag.substring(1, 4)", json!("1.2")),
        ("'héllo'.substring(1, 2)", json!("é")),
        ("trigger.tag.replace('.', '_')", json!("v1_2-rc_3")),
        ("'a.b.c'.split('\\.')", json!(["a", "b", "c"])),
        ("'a1b22c'.split('\\d+')", json!(["a", "b", "c"])),
        ("'a,b,,'.split(',')", json!(["a", "b"])),
        ("''.split(',')", json!([""])),
        ("'abc'.split('')", json!(["a", "b", "c"])),
        ("'docker'.equals(trigger.type)", json!(true)),
        ("'DOCKER'.equalsIgnoreCase(trigger.type)", json!(true)),
        ("trigger.tag.charAt(0)", json!("v")),
        ("'v1.2'.replaceAll('(\\d)', '<$1>')", json!("v<1>.<2>")),
        ("'aaa'.replaceFirst('a', 'b')", json!("baa")),
        ("'abc'.matches('[a-c]+')", json!(true)),
        ("'a'.concat('b')", json!("ab")),
    ] {
        assert_eq!(ok(expression), expected, "{expression}");
    }
    assert_eq!(fails("'abc'.substring(2, 5)"), "substring(2, 5) is out of range for a string of 3");
    assert_eq!(fails("'abc'.substring(-1)"), "substring(-1, 3) is out of range for a string of 3");
    assert_eq!(fails("'abc'.charAt(3)"), "charAt(3) is out of range for a string of 3");
    assert_eq!(fails("'abc'.reverse()"), "unknown method reverse() with 0 arguments on a string");
    assert_eq!(fails("nothing.toString()"), "cannot call toString() on null (use '?.' to get null instead)");
    assert_eq!(ok("nothing?.toString()"), json!(null));
}

#[test]
fn methods_on_lists_maps_and_numbers() {
    for (expression, expected) in [
        ("execution.stages.size()", json!(3)),
        ("{}.isEmpty()", json!(true)),
        ("{1, 2}.contains(2.0)", json!(true)),
        ("{'a', 'b'}.indexOf('b')", json!(1)),
        ("execution.stages.get(0).name", json!("Bake")),
        ("{1, {2}}.toString()", json!("[1, [2]]")),
        ("trigger.size()", json!(4)),
        ("trigger.containsKey('tag')", json!(true)),
        ("trigger.containsValue(42)", json!(true)),
        ("trigger.get('type')", json!("docker")),
        ("trigger.get('nope')", json!(null)),
        ("trigger.getOrDefault('nope', 'dflt')", json!("dflt")),
        ("{b: 1, a: 2}.keySet()", json!(["a", "b"])),
        ("{b: 1, a: 2}.values()", json!([2, 1])),
        ("{a: {1}}.toString()", json!("{a=[1]}")),
        ("trigger.buildNumber.toString()", json!("42")),
        ("trigger.ratio.toString()", json!("0.5")),
        ("2.9.intValue()", json!(2)),
        ("3000000000L.intValue()", json!(-1294967296)),
        ("trigger.buildNumber.doubleValue()", json!(42.0)),
        ("true.toString()", json!("true")),
    ] {
        assert_eq!(ok(expression), expected, "{expression}");
    }
    assert_eq!(fails("{1}.get(1)"), "index 1 is out of range for a list of 1");
    assert_eq!(fails("trigger.nope()"), "unknown method nope() with 0 arguments on a map");
    assert_eq!(fails("1.size()"), "unknown method size() with 0 arguments on an integer");
}

#[test]
fn constructors_and_types() {
    assert_eq!(ok("new java.lang.Integer('7') * 2"), json!(14));
    assert_eq!(ok("new String('x') + new Long(5)"), json!("x5"));
    assert_eq!(ok("new Double('2.5')"), json!(2.5));
    assert_eq!(ok("new Boolean('TRUE')"), json!(true));
    assert_eq!(ok("T(java.lang.Integer).parseInt('12') + T(Integer).valueOf(1)"), json!(13));
    assert_eq!(ok("T(java.lang.Math).max(3, 9) - T(Math).min(1, 2) + T(Math).abs(-1)"), json!(9));
    assert_eq!(ok("T(java.lang.String).valueOf(12) + T(Boolean).parseBoolean('true')"), json!("12true"));
    assert_eq!(ok("T(Integer).MAX_VALUE"), json!(2147483647));
    assert_eq!(
        fails("T(java.lang.Runtime).getRuntime().exec('rm -rf /')"),
        "type java.lang.Runtime is not allowed in expressions"
    );
    assert_eq!(fails("new java.io.File('/etc/passwd')"), "type java.io.File is not allowed in expressions");
    assert_eq!(fails("T(Runtime)"), "type Runtime is not allowed in expressions");
    assert!(fails("new java.util.Date()").ends_with("(Orca allows it; gennaker does not implement it)"));
    assert_eq!(fails("new int[3]"), "creating an array is not allowed in expressions");
    assert_eq!(fails("new Integer('x')"), "cannot convert 'x' to an Integer");
    assert_eq!(fails("T(Math).random()"), "T(Math) has no static method 'random' taking 0 arguments");
}

#[test]
fn refused_at_parse_time() {
    let refused = |expression: &str| parse(expression, &Limits::default()).expect_err(expression).to_string();
    assert_eq!(refused("trigger.tag = 'x'"), "assignment '=' is not allowed in expressions");
    assert_eq!(refused("@myBean.foo()"), "a bean reference ('@name') is not allowed in expressions");
    assert_eq!(refused("&factory"), "a bean reference ('@name') is not allowed in expressions");
    assert_eq!(refused("trigger.buildNumber++"), "'++' or '--' is not allowed in expressions");
    assert_eq!(
        refused("#jsonFromUrl('http://x')"),
        "#jsonFromUrl is not allowed in expressions: no I/O in expressions"
    );
    assert_eq!(refused("#fromUrl('http://x')"), "#fromUrl is not allowed in expressions: no I/O in expressions");
    assert_eq!(
        refused("#propertiesFromUrl('http://x')"),
        "#propertiesFromUrl is not allowed in expressions: no I/O in expressions"
    );
    assert_eq!(
        refused("1 instanceof T(Integer)"),
        "syntax error at character 2: the 'instanceof' operator is not supported"
    );
    assert_eq!(refused(""), "syntax error at character 0: the expression is empty");
    assert_eq!(refused("1 +"), "syntax error at character 3: the expression ends where a value was expected");
    assert_eq!(refused("a == b == c"), "syntax error at character 7: unexpected '==' after a complete expression");
    assert_eq!(refused("(1"), "syntax error at character 2: expected ')' but found the end of the expression");
    assert_eq!(
        refused("a.'b'"),
        "syntax error at character 2: expected a name, a method or a selection after '.' but found string 'b'"
    );
}

#[test]
fn built_in_functions() {
    assert_eq!(ok("#toJson({a: {1, 'x'}, b: null})"), json!(r#"{"a":[1,"x"],"b":null}"#));
    assert_eq!(fails("#toJson('${x}')"), "#toJson() failed: the result cannot contain an expression ('${')");
    assert_eq!(ok("#readJson('{\"a\": [1, 2]}').a[1]"), json!(2));
    assert_eq!(ok("#readJson('[1, 2]').size()"), json!(2));
    assert!(fails("#readJson('1')").starts_with("#readJson() failed: expects a JSON object"));
    assert!(fails("#readJson('{')").starts_with("#readJson() failed: '{' is not JSON"));
    assert_eq!(ok("#toInt(parameters.n) + 1"), json!(42));
    assert_eq!(ok("#toInt(5)"), json!(5));
    assert_eq!(fails("#toInt('3000000000')"), "#toInt() failed: cannot convert '3000000000' to an Integer");
    assert_eq!(ok("#toFloat('2.5')"), json!(2.5));
    assert_eq!(ok("#toBoolean('True')"), json!(true));
    assert_eq!(ok("#toBoolean('yes')"), json!(false));
    assert_eq!(ok("#toBase64('hello')"), json!("aGVsbG8="));
    assert_eq!(ok("#fromBase64('aGVsbG8')"), json!("hello"));
    assert!(fails("#fromBase64('***')").starts_with("#fromBase64() failed: '***' is not base64"));
    assert_eq!(ok("#alphanumerical('a-b_c.1!')"), json!("abc1"));
    assert_eq!(fails("#alphanumerical(nothing)"), "#alphanumerical() failed: needs a string, not null");
}

#[test]
fn parse_once_evaluate_many_and_text() {
    let limits = Limits::default();
    let expr = parse("parameters.env + '-' + trigger.buildNumber", &limits).expect("parses");
    let first = evaluate_parsed(&expr, &root(), &engine, &limits);
    let other = json!({"parameters": {"env": "dev"}, "trigger": {"buildNumber": 7}});
    assert_eq!(first, Ok(json!("prod-42")));
    assert_eq!(evaluate_parsed(&expr, &other, &super::NoFunctions, &limits), Ok(json!("dev-7")));
    assert_eq!(to_text(&json!(["a", 1.0]), &limits), Ok("a,1.0".to_string()));
    assert_eq!(to_text(&json!({"k": 1}), &limits), Ok("{k=1}".to_string()));
}
