//! What a notification says, whatever carries it: one rendering of an incident into a subject
//! and labelled facts, which each channel only lays out (plain text, Slack text, a Teams card,
//! a webhook's JSON).

use crate::domain::Incident;

/// An incident in words. It holds what the incident holds: detector ids and counts, never a
/// matched value (the inspector keeps none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    /// `(label, value)` lines, in reading order.
    pub facts: Vec<(&'static str, String)>,
}

impl Message {
    /// The facts as `Label: value` lines: the e-mail body and the webhook's `text`.
    pub fn text(&self) -> String {
        self.facts
            .iter()
            .map(|(label, value)| format!("{label}: {value}\n"))
            .collect()
    }
}

pub fn render(incident: &Incident) -> Message {
    let object = incident
        .object
        .object_path
        .as_deref()
        .or(incident.object.object_name.as_deref())
        .unwrap_or("an object");
    let matches = incident
        .matches
        .iter()
        .map(|m| format!("{} x{}", m.rule, m.count))
        .collect::<Vec<_>>()
        .join(", ");
    Message {
        subject: format!(
            "[CASB] {:?} incident: {} ({object})",
            incident.severity, incident.policy_name
        ),
        facts: vec![
            ("Policy", incident.policy_name.clone()),
            ("Severity", format!("{:?}", incident.severity)),
            ("Provider", incident.object.provider.to_string()),
            ("Object", object.to_string()),
            (
                "Actor",
                incident
                    .actor_email
                    .as_deref()
                    .unwrap_or("unknown")
                    .to_string(),
            ),
            ("Matches", matches),
            ("Incident", incident.id.clone()),
            ("Detected", incident.created_at.to_rfc3339()),
        ],
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// From JSON, so fields added to incidents later take their defaults here.
    pub(crate) fn incident() -> Incident {
        serde_json::from_value(serde_json::json!({
            "id": "inc-1",
            "tenant_id": "tenant-a",
            "integration_id": "int-1",
            "policy_id": "builtin.pci",
            "policy_name": "Card numbers in a shared file",
            "severity": "high",
            "object": {
                "provider": "box",
                "object_id": "f-1",
                "object_type": "file",
                "object_name": "cards.csv",
                "object_path": "/Finance/cards.csv"
            },
            "activity_id": "act-1",
            "actor_email": "ann@example.com",
            "matches": [
                {"rule": "credit_card", "count": 3},
                {"rule": "public_link", "count": 1}
            ],
            "status": "open",
            "actions": [],
            "created_at": "2026-11-24T10:00:00Z",
            "updated_at": "2026-11-24T10:00:00Z",
            "version": 1
        }))
        .expect("an incident")
    }

    #[test]
    fn an_incident_reads_as_subject_and_facts() {
        let message = render(&incident());
        assert_eq!(
            message.subject,
            "[CASB] High incident: Card numbers in a shared file (/Finance/cards.csv)"
        );
        let text = message.text();
        for line in [
            "Policy: Card numbers in a shared file\n",
            "Severity: High\n",
            "Object: /Finance/cards.csv\n",
            "Actor: ann@example.com\n",
            "Matches: credit_card x3, public_link x1\n",
            "Incident: inc-1\n",
            "Detected: 2026-11-24T10:00:00+00:00\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
    }

    #[test]
    fn a_nameless_object_and_actor_still_read() {
        let mut incident = incident();
        incident.object.object_path = None;
        incident.object.object_name = None;
        incident.actor_email = None;
        let message = render(&incident);
        assert!(
            message.subject.ends_with("(an object)"),
            "{}",
            message.subject
        );
        assert!(message.text().contains("Actor: unknown\n"));
    }
}
