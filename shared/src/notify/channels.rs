//! Named notification channels: the channels file, read once at start-up and validated whole,
//! so a mistake stops the process with a message naming the channel and the field instead of
//! failing the first incident.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The channel a notify action without a channel name goes to.
pub const SECURITY_TEAM: &str = "security-team";
/// Not a configured channel: e-mail to the user the incident names (`actor_email`).
pub const OWNER: &str = "owner";
/// Every secret a channel names lives under this prefix: the remediator's IAM policy
/// (template.yaml) lets it read nothing else for notifications.
pub const SECRET_PREFIX: &str = "notify/";

/// Where the channels file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelsSource {
    /// `CASB_NOTIFY_CHANNELS`: a YAML or JSON file.
    File(PathBuf),
    /// `CASB_NOTIFY_CHANNELS_JSON`: the file's content itself (Lambda has no file to point at
    /// unless a layer ships one).
    Inline(String),
}

/// Where an HTTP channel posts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A URL that is no secret (a SOAR's inbound address without a token in it).
    Url(String),
    /// The name of a secret holding the URL (Slack and Teams URLs are bearer credentials).
    Secret(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Through the back end's mailer: SES in AWS, SMTP (or the outbox) for `casb serve`.
    Email { to: Vec<String> },
    /// A Slack incoming webhook.
    Slack { url_secret: String },
    /// A Microsoft Teams Workflows (or legacy incoming) webhook.
    Teams { url_secret: String },
    /// A signed JSON POST to a SOAR or any other receiver.
    Webhook {
        endpoint: Endpoint,
        signing_secret: String,
    },
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Email { .. } => "email",
            Channel::Slack { .. } => "slack",
            Channel::Teams { .. } => "teams",
            Channel::Webhook { .. } => "webhook",
        }
    }
}

/// Every configured channel, `security-team` always among them.
#[derive(Debug, Clone)]
pub struct Channels {
    named: BTreeMap<String, Channel>,
}

impl Channels {
    /// The channels `source` defines, plus `security-team` (e-mail to `security_team`, the
    /// `CASB_NOTIFY_EMAILS` list) unless the file defines it. Without a source, only that.
    pub fn load(source: Option<&ChannelsSource>, security_team: &[String]) -> Result<Self, String> {
        match source {
            None => Ok(Self::with_security_team(BTreeMap::new(), security_team)),
            Some(ChannelsSource::File(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{} (CASB_NOTIFY_CHANNELS): {e}", path.display()))?;
                Self::parse(&text, security_team)
                    .map_err(|e| format!("{} (CASB_NOTIFY_CHANNELS): {e}", path.display()))
            }
            Some(ChannelsSource::Inline(text)) => Self::parse(text, security_team)
                .map_err(|e| format!("CASB_NOTIFY_CHANNELS_JSON: {e}")),
        }
    }

    /// Parses a channels file (YAML, or JSON, which YAML reads too) and validates every
    /// channel; the error lists every problem found, one per line.
    pub fn parse(text: &str, security_team: &[String]) -> Result<Self, String> {
        let file: ChannelsFile = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let mut named = BTreeMap::new();
        for (name, raw) in file.channels {
            match raw.validate(&name) {
                Ok(channel) => {
                    named.insert(name, channel);
                }
                Err(mut found) => problems.append(&mut found),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }
        Ok(Self::with_security_team(named, security_team))
    }

    fn with_security_team(mut named: BTreeMap<String, Channel>, emails: &[String]) -> Self {
        named
            .entry(SECURITY_TEAM.to_string())
            .or_insert_with(|| Channel::Email {
                to: emails.to_vec(),
            });
        Channels { named }
    }

    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.named.get(name)
    }

    /// Every name a notify action may use, `owner` included, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.named.keys().map(String::as_str).collect();
        names.push(OWNER);
        names.sort_unstable();
        names
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelsFile {
    channels: BTreeMap<String, RawChannel>,
}

/// A channel as written; [`RawChannel::validate`] turns it into a [`Channel`] or says what is
/// wrong with each field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    kind: Option<String>,
    to: Option<Vec<String>>,
    url: Option<String>,
    url_secret: Option<String>,
    signing_secret: Option<String>,
}

/// What is wrong with one channel, each problem naming the channel and the field.
struct Problems<'a> {
    channel: &'a str,
    found: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, text: impl std::fmt::Display) {
        self.found.push(format!(
            "channel '{}', field '{field}': {text}",
            self.channel
        ));
    }

    /// The secret name in `value`, if it is one a channel may use.
    fn secret(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let channel = self.channel;
        match value {
            None => self.add(
                field,
                format_args!(
                    "required: the name of a secret under {SECRET_PREFIX}, e.g. {SECRET_PREFIX}{channel}"
                ),
            ),
            Some(secret) if !valid_secret_name(&secret) => self.add(
                field,
                format_args!(
                    "'{secret}' must be a secret name under {SECRET_PREFIX} (the remediator may read only those)"
                ),
            ),
            Some(secret) => return Some(secret),
        }
        None
    }
}

impl RawChannel {
    fn validate(self, name: &str) -> Result<Channel, Vec<String>> {
        let mut problems = Problems {
            channel: name,
            found: Vec::new(),
        };
        if name == OWNER {
            problems.add(
                "name",
                "'owner' is reserved: it always e-mails the user the incident names",
            );
        } else if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.add("name", "use 1 to 64 letters, digits, '-', '_' or '.'");
        }
        let RawChannel {
            kind,
            to,
            url,
            url_secret,
            signing_secret,
        } = self;
        let Some(kind) = kind else {
            problems.add("kind", "required: one of email, slack, teams, webhook");
            return Err(problems.found);
        };
        let allowed: &[&str] = match kind.as_str() {
            "email" => &["to"],
            "slack" | "teams" => &["url_secret"],
            "webhook" => &["url", "url_secret", "signing_secret"],
            other => {
                problems.add(
                    "kind",
                    format_args!("'{other}' is not one of email, slack, teams, webhook"),
                );
                return Err(problems.found);
            }
        };
        let present = [
            ("to", to.is_some()),
            ("url", url.is_some()),
            ("url_secret", url_secret.is_some()),
            ("signing_secret", signing_secret.is_some()),
        ];
        for (field, _) in present
            .iter()
            .filter(|(f, set)| *set && !allowed.contains(f))
        {
            if *field == "url" {
                // Slack and Teams URLs carry their own credential: anyone holding one can post.
                problems.add(field, format_args!(
                    "not allowed on a {kind} channel: its webhook URL is a secret; store it in the secret store and name the secret in url_secret"
                ));
            } else {
                problems.add(field, format_args!("not allowed on a {kind} channel"));
            }
        }
        let channel = match kind.as_str() {
            "email" => {
                let to = to.unwrap_or_default();
                if to.is_empty() {
                    problems.add("to", "required: at least one recipient address");
                }
                for address in to.iter().filter(|a| !plausible_address(a)) {
                    problems.add("to", format_args!("'{address}' is not an e-mail address"));
                }
                Some(Channel::Email { to })
            }
            "slack" => problems
                .secret("url_secret", url_secret)
                .map(|url_secret| Channel::Slack { url_secret }),
            "teams" => problems
                .secret("url_secret", url_secret)
                .map(|url_secret| Channel::Teams { url_secret }),
            _ => {
                let endpoint = match (url, url_secret) {
                    (Some(url), None) => match check_endpoint_url(&url) {
                        Ok(()) => Some(Endpoint::Url(url)),
                        Err(why) => {
                            problems.add("url", why);
                            None
                        }
                    },
                    (None, Some(name)) => problems
                        .secret("url_secret", Some(name))
                        .map(Endpoint::Secret),
                    (Some(_), Some(_)) => {
                        problems.add("url", "give url or url_secret, not both");
                        None
                    }
                    (None, None) => {
                        problems.add(
                            "url",
                            "required (or url_secret, when the URL carries a token)",
                        );
                        None
                    }
                };
                let signing_secret = problems.secret("signing_secret", signing_secret);
                endpoint
                    .zip(signing_secret)
                    .map(|(endpoint, signing_secret)| Channel::Webhook {
                        endpoint,
                        signing_secret,
                    })
            }
        };
        match channel {
            Some(channel) if problems.found.is_empty() => Ok(channel),
            _ => Err(problems.found),
        }
    }
}

fn valid_secret_name(name: &str) -> bool {
    name.strip_prefix(SECRET_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    })
}

/// A sanity check, not RFC 5322: catches lists pasted as one entry and names without a domain.
fn plausible_address(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !address
                    .contains(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>'))
        }
        None => false,
    }
}

/// Notifications leave over HTTPS; plain HTTP only to this machine (tests, a local relay).
pub(crate) fn check_endpoint_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if crate::connector::http::secure_or_loopback(&parsed) {
        Ok(())
    } else {
        Err("must be an https:// URL (plain http only to localhost)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Channels, String> {
        Channels::parse(text, &["secops@example.com".to_string()])
    }

    #[test]
    fn every_kind_parses_from_yaml_and_json() {
        let yaml = r#"
channels:
  soc-mail:
    kind: email
    to: [soc@example.com, lead@example.com]
  soc-slack:
    kind: slack
    url_secret: notify/soc-slack
  soc-teams:
    kind: teams
    url_secret: notify/soc-teams
  soar:
    kind: webhook
    url: https://soar.example.com/hooks/casb
    signing_secret: notify/soar-key
  tines:
    kind: webhook
    url_secret: notify/tines-url
    signing_secret: notify/tines-key
"#;
        let channels = parse(yaml).unwrap();
        assert_eq!(
            channels.names(),
            [
                "owner",
                "security-team",
                "soar",
                "soc-mail",
                "soc-slack",
                "soc-teams",
                "tines"
            ]
        );
        assert_eq!(
            channels.get("soc-slack"),
            Some(&Channel::Slack {
                url_secret: "notify/soc-slack".into()
            })
        );
        assert_eq!(
            channels.get("tines"),
            Some(&Channel::Webhook {
                endpoint: Endpoint::Secret("notify/tines-url".into()),
                signing_secret: "notify/tines-key".into()
            })
        );
        // The default security team comes from CASB_NOTIFY_EMAILS.
        assert_eq!(
            channels.get(SECURITY_TEAM),
            Some(&Channel::Email {
                to: vec!["secops@example.com".into()]
            })
        );

        let json = r#"{"channels": {"soc-teams": {"kind": "teams", "url_secret": "notify/t"}}}"#;
        assert_eq!(
            parse(json).unwrap().get("soc-teams"),
            Some(&Channel::Teams {
                url_secret: "notify/t".into()
            })
        );
    }

    #[test]
    fn the_file_may_redefine_the_security_team() {
        let channels =
            parse("channels:\n  security-team:\n    kind: slack\n    url_secret: notify/sec\n")
                .unwrap();
        assert_eq!(channels.get(SECURITY_TEAM).unwrap().kind(), "slack");
        // Without a file, the security team is the e-mail list alone.
        let defaults = Channels::load(None, &["a@example.com".to_string()]).unwrap();
        assert_eq!(defaults.names(), ["owner", "security-team"]);
    }

    #[test]
    fn problems_name_the_channel_and_the_field() {
        let error = parse(
            r#"
channels:
  leaky:
    kind: slack
    url: https://hooks.slack.com/services/T0/B0/x
    url_secret: notify/leaky
  nameless:
    kind: email
  bad-mail:
    kind: email
    to: ["a@example.com, b@example.com"]
  outside:
    kind: teams
    url_secret: tenants/t1/integrations/i1/credentials
  soar:
    kind: webhook
    url: http://soar.example.com/hook
  owner:
    kind: email
    to: [x@example.com]
  pager:
    kind: sms
"#,
        )
        .unwrap_err();
        for expected in [
            "channel 'leaky', field 'url': not allowed on a slack channel: its webhook URL is a secret",
            "channel 'nameless', field 'to': required",
            "channel 'bad-mail', field 'to': 'a@example.com, b@example.com' is not an e-mail address",
            "channel 'outside', field 'url_secret': 'tenants/t1/integrations/i1/credentials' must be a secret name under notify/",
            "channel 'soar', field 'url': must be an https:// URL",
            "channel 'soar', field 'signing_secret': required",
            "channel 'owner', field 'name': 'owner' is reserved",
            "channel 'pager', field 'kind': 'sms' is not one of",
        ] {
            assert!(error.contains(expected), "missing {expected:?} in:\n{error}");
        }
        assert_eq!(error.lines().count(), 8, "{error}");
    }

    #[test]
    fn unknown_fields_and_bad_structure_are_refused_with_their_place() {
        let error =
            parse("channels:\n  soc:\n    kind: slack\n    url_secrt: notify/x\n").unwrap_err();
        assert!(
            error.contains("channels.soc") && error.contains("url_secrt"),
            "{error}"
        );
        let error = parse("channel:\n  soc:\n    kind: slack\n").unwrap_err();
        assert!(error.contains("channel"), "{error}");
        let missing = Channels::load(
            Some(&ChannelsSource::File("/nonexistent/channels.yaml".into())),
            &[],
        )
        .unwrap_err();
        assert!(
            missing.contains("/nonexistent/channels.yaml (CASB_NOTIFY_CHANNELS)"),
            "{missing}"
        );
        let inline = Channels::load(Some(&ChannelsSource::Inline("{".into())), &[]).unwrap_err();
        assert!(
            inline.starts_with("CASB_NOTIFY_CHANNELS_JSON: "),
            "{inline}"
        );
    }

    #[test]
    fn a_webhook_on_this_machine_may_use_plain_http() {
        let channels = parse(
            "channels:\n  local:\n    kind: webhook\n    url: http://127.0.0.1:9000/hook\n    signing_secret: notify/local\n",
        )
        .unwrap();
        assert_eq!(channels.get("local").unwrap().kind(), "webhook");
    }
}
