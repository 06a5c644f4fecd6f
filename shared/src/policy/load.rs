//! Reading a policy file: YAML or JSON (JSON is YAML), checked field by field, every problem
//! reported with the line and the field it is about.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{CollaboratorScope, Policy, PolicyAction, PolicySet};
use crate::dlp::Category;

/// The product's default policies, in the format administrators write.
pub const DEFAULT_POLICIES_YAML: &str = include_str!("default-policies.yaml");

/// The default policy set. It is tested to parse, so this cannot fail.
pub fn default_set() -> PolicySet {
    parse(DEFAULT_POLICIES_YAML, "default-policies.yaml", None)
        .expect("the default policy set is valid")
}

/// What is wrong with a policy file: every problem found, one per line of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub source: String,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// `policies[2].when.content.any_of[0].detectors`
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.line {
                Some(line) => write!(f, "{}:{line}: ", self.source)?,
                None => write!(f, "{}: ", self.source)?,
            }
            if p.field.is_empty() {
                write!(f, "{}", p.message)?;
            } else {
                write!(f, "{}: {}", p.field, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// Parses and checks a policy file. `detectors` are the ids (with categories) the DLP engine
/// can report; when given, content conditions may name only those.
pub fn parse(
    text: &str,
    source: &str,
    detectors: Option<&[(String, Category)]>,
) -> Result<PolicySet, PolicyError> {
    let error = |problems| PolicyError {
        source: source.to_string(),
        problems,
    };
    let set: PolicySet = yaml_serde::from_str(text).map_err(|e| {
        let message = e.to_string();
        // The library's message ends with "at line L column C"; the line goes up front.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        let (field, message) = match message.split_once(": ") {
            Some((field, rest)) if !field.contains(' ') => (field.to_string(), rest.to_string()),
            _ => (String::new(), message),
        };
        error(vec![Problem {
            line: e.location().map(|l| l.line()),
            field,
            message,
        }])
    })?;
    let problems = check(&set, text, detectors);
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(error(problems))
    }
}

/// The line where policy `id` is defined, for messages about it.
fn line_of_policy(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ");
            let rest = line
                .strip_prefix("id:")
                .or_else(|| line.strip_prefix("\"id\":"));
            rest.is_some_and(|value| {
                value
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == ',')
                    == id
            })
        })
        .map(|i| i + 1)
}

fn check(set: &PolicySet, text: &str, detectors: Option<&[(String, Category)]>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for (name, entries) in &set.lists {
        if name.trim().is_empty() || entries.iter().any(|e| e.trim().is_empty()) {
            problems.push(Problem {
                line: None,
                field: format!("lists.{name}"),
                message: "list names and entries must not be empty".into(),
            });
        }
    }
    for (i, policy) in set.policies.iter().enumerate() {
        let line = line_of_policy(text, &policy.id);
        let mut problem = |field: &str, message: String| {
            problems.push(Problem {
                line,
                field: format!("policies[{i}] ({}).{field}", policy.id),
                message,
            })
        };
        if let Err(e) = crate::domain::validate_id("policy id", &policy.id) {
            problem("id", e.to_string());
        }
        if !ids.insert(policy.id.as_str()) {
            problem(
                "id",
                "another policy has this id; ids must be unique (incidents are keyed on them)"
                    .into(),
            );
        }
        if policy.name.trim().is_empty() {
            problem(
                "name",
                "give the policy a name people will read in incidents".into(),
            );
        }
        check_conditions(policy, &set.lists, detectors, &mut problem);
        check_actions(&policy.actions, &mut problem);
    }
    problems
}

fn check_conditions(
    policy: &Policy,
    lists: &BTreeMap<String, Vec<String>>,
    detectors: Option<&[(String, Category)]>,
    problem: &mut impl FnMut(&str, String),
) {
    let when = &policy.when;
    for (role, person) in [("actor", &when.actor), ("target", &when.target)] {
        let Some(person) = person else { continue };
        for name in person.lists.iter().chain(&person.not_in_lists) {
            if !lists.contains_key(name) {
                problem(
                    &format!("when.{role}.lists"),
                    format!(
                        "no list named '{name}'; define it under `lists:` (known: {})",
                        known(lists.keys())
                    ),
                );
            }
        }
    }
    if let Some(object) = &when.object {
        if let Some(kind) = &object.kind {
            if kind != "file" && kind != "folder" {
                problem(
                    "when.object.type",
                    format!("'{kind}' is not `file` or `folder`"),
                );
            }
        }
        if let (Some(min), Some(max)) = (object.min_size, object.max_size) {
            if min > max {
                problem(
                    "when.object",
                    format!("min_size {min} is above max_size {max}"),
                );
            }
        }
    }
    if let Some(exposure) = &when.exposure {
        if exposure.any_of.is_empty() {
            problem(
                "when.exposure.any_of",
                "name at least one of public_link, organization_link, external_collaborators"
                    .into(),
            );
        }
    }
    if when.anomaly.is_some() && when.needs_content() {
        problem(
            "when.anomaly",
            "an anomaly policy acts on behaviour, not on file content: move the content \
             conditions to a policy of their own"
                .into(),
        );
    }
    if let Some(content) = &when.content {
        if content.any_of.is_empty() && !content.uninspected {
            problem(
                "when.content",
                "give `any_of` matchers, or `uninspected: true`, or remove the clause".into(),
            );
        }
        if let Some(detectors) = detectors {
            for (j, matcher) in content.any_of.iter().enumerate() {
                for id in matcher.detectors.iter().chain(&matcher.exclude_detectors) {
                    if !detectors.iter().any(|(known, _)| known == id) {
                        problem(
                            &format!("when.content.any_of[{j}]"),
                            format!(
                                "no detector '{id}'; `casb detectors` lists the built-in ids, \
                                 custom rules come from the DLP rules file (CASB_DLP_POLICY)"
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn check_actions(actions: &[PolicyAction], problem: &mut impl FnMut(&str, String)) {
    let mut seen = HashSet::new();
    let position = |wanted: fn(&PolicyAction) -> bool| actions.iter().position(wanted);
    for action in actions {
        if !seen.insert((action.kind(), action.channel().map(str::to_string))) {
            problem("actions", format!("{action:?} is listed twice"));
        }
        if action.channel().is_some_and(|c| c.trim().is_empty()) {
            problem("actions", "notify needs a channel name".into());
        }
    }
    let quarantine = position(|a| matches!(a, PolicyAction::Quarantine));
    if quarantine.is_some() && position(|a| matches!(a, PolicyAction::Delete)).is_some() {
        problem(
            "actions",
            "quarantine and delete exclude each other: keep one".into(),
        );
    }
    let ancestors = position(|a| {
        matches!(
            a,
            PolicyAction::RemoveExternalCollaborators {
                scope: CollaboratorScope::Ancestors
            }
        )
    });
    if let (Some(ancestors), Some(quarantine)) = (ancestors, quarantine) {
        if ancestors < quarantine {
            problem(
                "actions",
                "remove_external_collaborators with scope ancestors comes before quarantine: \
                 the partner would lose every folder above the file, though moving the file \
                 out first removes their access to it alone; put quarantine first"
                    .into(),
            );
        }
    }
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

const ACTION_NAMES: &[&str] = &[
    "incident",
    "quarantine",
    "delete",
    "remove_shared_link",
    "remove_external_collaborators",
    "notify",
];

/// An action is a name (`quarantine`) or a one-key map with its options
/// (`notify: security-team`, `remove_external_collaborators: {scope: file}`).
impl<'de> Deserialize<'de> for PolicyAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ActionVisitor;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CollaboratorOptions {
            #[serde(default)]
            scope: CollaboratorScope,
        }

        impl<'de> Visitor<'de> for ActionVisitor {
            type Value = PolicyAction;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an action: one of {}", ACTION_NAMES.join(", "))
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<PolicyAction, E> {
                Ok(match name {
                    "incident" => PolicyAction::Incident,
                    "quarantine" => PolicyAction::Quarantine,
                    "delete" => PolicyAction::Delete,
                    "remove_shared_link" => PolicyAction::RemoveSharedLink,
                    "remove_external_collaborators" => PolicyAction::RemoveExternalCollaborators {
                        scope: CollaboratorScope::File,
                    },
                    "notify" => PolicyAction::Notify {
                        channel: "security-team".into(),
                    },
                    other => return Err(E::unknown_variant(other, ACTION_NAMES)),
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PolicyAction, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("an empty map is not an action"));
                };
                let action = match name.as_str() {
                    "notify" => PolicyAction::Notify {
                        channel: map.next_value()?,
                    },
                    "remove_external_collaborators" => {
                        let options: CollaboratorOptions = map.next_value()?;
                        PolicyAction::RemoveExternalCollaborators {
                            scope: options.scope,
                        }
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "`{other}` takes no options; write it as a plain name (actions with \
                             options: notify, remove_external_collaborators)"
                        )))
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one action per list item: `{extra}` must be its own `- {extra}`"
                    )));
                }
                Ok(action)
            }
        }

        deserializer.deserialize_any(ActionVisitor)
    }
}
