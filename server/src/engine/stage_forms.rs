//! Pieces of the editor's forms that several cloud stage types share (where a stage acts: an
//! account and region, a cluster, a server group or a `target` in it) and the defaults that go
//! with them. Each stage type's own form is in its file under `stages/` (its `describe`).

use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use serde_json::{Value, json};

/// A stage type's form from its parts; `defaults` must be a JSON object.
pub fn info(type_name: &str, label: &str, description: &str, fields: Vec<Field>, defaults: Value) -> StageTypeInfo {
    StageTypeInfo {
        type_name: type_name.into(),
        label: label.into(),
        description: description.into(),
        fields,
        lists: Vec::new(),
        defaults,
    }
}

pub fn location() -> Vec<Field> {
    vec![
        Field::new("account", "Account", Input::Text, "The cloud account (the local cloud's is local)."),
        Field::new("region", "Region", Input::Text, "The region (the local cloud's is local)."),
    ]
}

fn cluster_field() -> Field {
    Field::new("cluster", "Cluster", Input::Text, "The cluster, application-stack-detail, e.g. shop-web.")
}

/// A server group by `target` in a cluster, or by name, and where: then `own`.
pub fn target_with(own: Vec<Field>) -> Vec<Field> {
    let targets = choices(&[
        ("", "(a server group by name)"),
        ("current_asg_dynamic", "Newest server group"),
        ("ancestor_asg_dynamic", "Previous server group"),
        ("oldest_asg_dynamic", "Oldest server group"),
        ("largest_asg_dynamic", "Largest server group"),
    ]);
    let mut fields = vec![
        cluster_field(),
        Field::new("target", "Target", targets, "Which server group of the cluster, when it runs."),
        Field::new("serverGroupName", "Server group", Input::Text, "Or an exact server group, e.g. shop-web-v003 (overrides the target)."),
    ];
    fields.extend(location());
    fields.extend(own);
    fields
}

/// A cluster and where: then `own`.
pub fn cluster_with(own: Vec<Field>) -> Vec<Field> {
    let mut fields = vec![cluster_field()];
    fields.extend(location());
    fields.extend(own);
    fields
}

/// The application's main cluster on the local cloud, merged with `own`.
pub fn cluster_defaults(application: &str, own: Value) -> Value {
    merged(json!({"cloudProvider": "local", "account": "local", "region": "local", "cluster": application}), own)
}

/// The newest server group of the application's main cluster, merged with `own`.
pub fn target_defaults(application: &str, own: Value) -> Value {
    merged(cluster_defaults(application, json!({"target": "current_asg_dynamic"})), own)
}

fn merged(mut base: Value, own: Value) -> Value {
    if let (Some(base), Value::Object(own)) = (base.as_object_mut(), own) {
        base.extend(own);
    }
    base
}
