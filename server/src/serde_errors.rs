//! Reading serde's error messages: which field of a JSON body a decoding error is about, so
//! REST answers and saved-pipeline checks can name it (`{"field": "capacity.min"}`).

/// The field a serde error is about: the one in backticks for unknown/missing fields, else the
/// path serde_path_to_error put before the message (`capacity.min: invalid type ...`).
pub fn field_of(text: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start + marker.len()..];
            return rest.split('`').next().map(str::to_string);
        }
    }
    let detail = text.split_once("target type: ")?.1;
    let (path, _) = detail.split_once(": ")?;
    (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn finds_the_field_in_serde_messages() {
        assert_eq!(field_of("... unknown field `owner`, expected one of `name`").as_deref(), Some("owner"));
        assert_eq!(field_of("... missing field `name` at line 1").as_deref(), Some("name"));
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: email: invalid type: integer `5`").as_deref(),
            Some("email")
        );
        assert_eq!(field_of("Failed to parse the request body as JSON: expected value"), None);
        #[derive(Debug, serde::Deserialize)]
        struct Limit {
            #[allow(dead_code)]
            limit: u32,
        }
        let rejection = axum::extract::Query::<Limit>::try_from_uri(&"/x?limit=ten".parse().unwrap()).unwrap_err();
        assert_eq!(crate::http::ApiError::from(rejection).0.body().error.field.as_deref(), Some("limit"));
    }
}
