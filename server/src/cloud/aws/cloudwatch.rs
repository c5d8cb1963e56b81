//! The three CloudWatch calls a step scaling policy needs (PutMetricAlarm, DescribeAlarms,
//! DeleteAlarms), spoken in CloudWatch's JSON protocol (`awsJson1_0`) and signed with SigV4.
//!
//! Why not `aws-sdk-cloudwatch`: its current releases speak only the Smithy RPCv2 CBOR
//! protocol, which the test emulator (moto 5.2) does not understand, and it would add a CBOR
//! and compression stack and a second `http` crate to the build. CloudWatch serves the JSON
//! protocol too (its service model lists `smithy-rpc-v2-cbor`, `json` and `query`), so these
//! typed requests work against AWS and the emulator alike. The endpoint is the account's (an
//! operator's setting, as the SDK clients' is), so calls do not go through the user-facing
//! outbound allow-list.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("CloudWatch {0}: no credentials: {1}")]
    Credentials(&'static str, String),
    #[error("CloudWatch {0}: the request could not be signed: {1}")]
    Signing(&'static str, String),
    #[error("CloudWatch {0}: {1}")]
    Transport(&'static str, String),
    #[error("CloudWatch {0} failed ({1}): {2}")]
    Refused(&'static str, u16, String),
}

/// One region's CloudWatch.
#[derive(Clone)]
pub struct CloudWatch {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// `PutMetricAlarm`'s input (the fields gennaker sets) and, read back, `MetricAlarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarm {
    pub alarm_name: String,
    #[serde(default)]
    pub metric_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub statistic: String,
    #[serde(default)]
    pub comparison_operator: String,
    #[serde(default)]
    pub threshold: f64,
    #[serde(default)]
    pub period: u32,
    #[serde(default)]
    pub evaluation_periods: u32,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default)]
    pub alarm_actions: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlarmNames<'a> {
    alarm_names: &'a [String],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAlarmsOutput {
    #[serde(default)]
    metric_alarms: Vec<MetricAlarm>,
}

#[derive(Deserialize)]
struct Fault {
    #[serde(default, alias = "Message")]
    message: String,
    #[serde(default, rename = "__type")]
    kind: String,
}

/// DescribeAlarms and DeleteAlarms take at most this many names.
const NAMES_PER_CALL: usize = 100;

impl CloudWatch {
    /// `endpoint`: the account's override, else AWS's regional endpoint.
    pub fn new(region: &str, endpoint: Option<&str>, credentials: Option<SharedCredentialsProvider>) -> Self {
        let endpoint = endpoint.map(|e| e.trim_end_matches('/').to_string()).unwrap_or_else(|| format!("https://monitoring.{region}.amazonaws.com"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(5)).build().expect("a TLS client builds");
        Self { http, endpoint, region: region.to_string(), credentials }
    }

    async fn call<T: Serialize>(&self, action: &'static str, input: &T) -> Result<Vec<u8>, Error> {
        let body = serde_json::to_vec(input).expect("inputs serialize");
        let target = format!("GraniteServiceVersion20100801.{action}");
        let content_type = "application/x-amz-json-1.0";
        let url = format!("{}/", self.endpoint);
        let provider = self.credentials.as_ref().ok_or_else(|| Error::Credentials(action, "the account has none".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| Error::Credentials(action, e.to_string()))?;
        let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("monitoring")
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| Error::Signing(action, e.to_string()))?
            .into();
        let headers = [("content-type", content_type), ("x-amz-target", target.as_str())];
        let signable = aws_sigv4::http_request::SignableRequest::new("POST", &url, headers.iter().copied(), aws_sigv4::http_request::SignableBody::Bytes(&body))
            .map_err(|e| Error::Signing(action, e.to_string()))?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params).map_err(|e| Error::Signing(action, e.to_string()))?.into_parts();
        let mut request = self.http.post(&url).header("content-type", content_type).header("x-amz-target", &target);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let answer = request.body(body).send().await.map_err(|e| Error::Transport(action, e.to_string()))?;
        let status = answer.status();
        let text = answer.bytes().await.map_err(|e| Error::Transport(action, e.to_string()))?;
        if !status.is_success() {
            let fault: Option<Fault> = serde_json::from_slice(&text).ok();
            let why = fault.map(|f| format!("{} {}", f.kind.rsplit('#').next().unwrap_or_default(), f.message).trim().to_string()).unwrap_or_else(|| String::from_utf8_lossy(&text).chars().take(300).collect());
            return Err(Error::Refused(action, status.as_u16(), why));
        }
        Ok(text.to_vec())
    }

    /// Creates or replaces the alarm.
    pub async fn put_metric_alarm(&self, alarm: &MetricAlarm) -> Result<(), Error> {
        self.call("PutMetricAlarm", alarm).await.map(drop)
    }

    /// The alarms of these names that exist.
    pub async fn describe_alarms(&self, names: &[String]) -> Result<Vec<MetricAlarm>, Error> {
        let mut found = Vec::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let text = self.call("DescribeAlarms", &AlarmNames { alarm_names: chunk }).await?;
            let output: DescribeAlarmsOutput = serde_json::from_slice(&text).map_err(|e| Error::Transport("DescribeAlarms", format!("unexpected answer: {e}")))?;
            found.extend(output.metric_alarms);
        }
        Ok(found)
    }

    pub async fn delete_alarms(&self, names: &[String]) -> Result<(), Error> {
        for chunk in names.chunks(NAMES_PER_CALL) {
            self.call("DeleteAlarms", &AlarmNames { alarm_names: chunk }).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_serialize_as_cloudwatch_names_them() {
        let alarm = MetricAlarm {
            alarm_name: "web-v001-step-1".into(),
            metric_name: "CPUUtilization".into(),
            namespace: "AWS/EC2".into(),
            statistic: "Average".into(),
            comparison_operator: "GreaterThanThreshold".into(),
            threshold: 70.0,
            period: 60,
            evaluation_periods: 2,
            dimensions: vec![Dimension { name: "AutoScalingGroupName".into(), value: "web-v001".into() }],
            alarm_actions: vec!["arn:policy".into()],
        };
        let json = serde_json::to_value(&alarm).unwrap();
        assert_eq!(json["AlarmName"], "web-v001-step-1");
        assert_eq!(json["Dimensions"][0]["Name"], "AutoScalingGroupName");
        assert_eq!(json["AlarmActions"][0], "arn:policy");
        let read: DescribeAlarmsOutput = serde_json::from_value(serde_json::json!({"MetricAlarms": [json], "NextToken": null})).unwrap();
        assert_eq!(read.metric_alarms[0], alarm);
    }
}
