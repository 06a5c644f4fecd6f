//! A ready-made demo world: an enterprise with departments, sensitive files, risky sharing and
//! external collaborators, so a demo or an end-to-end test has something to find at once.
//! The sensitive values are well-known test data (an SSN never issued to anyone, a card
//! number from payment-processor test suites, AWS's documented example key).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::files::SharedLinkRequest;
use crate::state::{ItemRef, SimState};

/// Ids of what [`crate::BoxSimulator::seed_demo_scenario`] created, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemoScenario {
    pub folders: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
    pub collaborations: BTreeMap<String, String>,
}

impl SimState {
    pub fn seed_demo_scenario(&mut self) -> Result<DemoScenario, BoxError> {
        let mut scenario = DemoScenario::default();
        let domain = self.config.enterprise_domain.clone();
        let alice = self
            .user_by_login(&format!("alice@{domain}"))
            .map(|u| u.id.clone())
            .unwrap_or_else(|| self.admin_user_id.clone());
        let bob = self
            .user_by_login(&format!("bob@{domain}"))
            .map(|u| u.id.clone())
            .unwrap_or_else(|| self.admin_user_id.clone());
        let carol = self
            .user_by_login(&format!("carol@{domain}"))
            .map(|u| u.id.clone())
            .unwrap_or_else(|| self.admin_user_id.clone());

        for (name, owner) in [
            ("Finance", &alice),
            ("HR", &bob),
            ("Engineering", &carol),
            ("Marketing", &alice),
        ] {
            let id = self.create_folder(owner, "0", name)?;
            scenario.folders.insert(name.to_string(), id);
        }
        let folder = |name: &str| {
            scenario
                .folders
                .get(name)
                .cloned()
                .unwrap_or_else(|| "0".to_string())
        };
        let files: [(&str, &str, &String, &str); 5] = [
            ("Finance", "card-payments-2026.csv", &alice, "customer,card\nJ. Doe,4111 1111 1111 1111\nR. Roe,5500 0000 0000 0004\n"),
            ("HR", "employee-records.txt", &bob, "Name: John Q. Public\nSSN: 078-05-1120\nSalary: 98,000\n"),
            ("Engineering", "deploy-notes.md", &carol, "# Deploy\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
            ("Marketing", "launch-plan.txt", &alice, "Launch plan for the spring campaign. Nothing sensitive here.\n"),
            ("Marketing", "logo.svg", &alice, "<svg xmlns='http://www.w3.org/2000/svg'><circle r='4'/></svg>\n"),
        ];
        for (folder_name, name, owner, content) in files {
            let id = self.upload_file(
                owner,
                &folder(folder_name),
                name,
                content.as_bytes().to_vec(),
            )?;
            scenario.files.insert(name.to_string(), id);
        }
        let file =
            |name: &str| ItemRef::file(scenario.files.get(name).cloned().unwrap_or_default());

        // Risky sharing: sensitive files exposed by open links and external collaborators.
        self.set_shared_link(
            &alice,
            &file("card-payments-2026.csv"),
            Some(SharedLinkRequest::with_access("open")),
        )?;
        self.set_shared_link(
            &bob,
            &file("employee-records.txt"),
            Some(SharedLinkRequest::with_access("company")),
        )?;
        self.set_shared_link(
            &alice,
            &file("launch-plan.txt"),
            Some(SharedLinkRequest::with_access("open")),
        )?;
        let external = self.add_collaboration(
            &carol,
            &file("deploy-notes.md"),
            "contractor@gmail.com",
            "editor",
        )?;
        scenario
            .collaborations
            .insert("deploy-notes.md:contractor@gmail.com".to_string(), external);
        let finance = ItemRef::folder(folder("Finance"));
        let partner =
            self.add_collaboration(&alice, &finance, "auditor@partner-audit.com", "viewer")?;
        scenario
            .collaborations
            .insert("Finance:auditor@partner-audit.com".to_string(), partner);
        Ok(scenario)
    }
}
