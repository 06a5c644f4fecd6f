//! Health identifiers (HIPAA identifiers, national health numbers, clinical codes).

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators as v;

const fn health(
    id: &'static str,
    name: &'static str,
    min_digits: u8,
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        category: Category::Health,
        trigger: Trigger::Digits(min_digits),
        pattern,
        ..BASE
    }
}

pub const SPECS: &[Spec] = &[
    Spec {
        validate: Some(v::us_npi),
        base: None,
        context: &["npi", "national provider", "provider id", "provider number"],
        ..health(
            "us_npi",
            "US National Provider Identifier (NPI)",
            10,
            r"\b(\d{10})\b",
        )
    },
    Spec {
        validate: Some(v::us_dea),
        base: Some(Confidence::Low),
        context: &["dea", "drug enforcement", "prescriber"],
        ..health(
            "us_dea_number",
            "US DEA registration number",
            7,
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        validate: Some(v::us_mbi),
        context: &["medicare", "mbi", "beneficiary"],
        ..health(
            "us_medicare_mbi",
            "US Medicare beneficiary identifier (MBI)",
            4,
            r"\b(\d[A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::uk_nhs),
        base: None,
        context: &["nhs", "national health", "health service", "patient"],
        ..health(
            "uk_nhs_number",
            "UK NHS number",
            10,
            r"\b(\d{3}[ -]?\d{3}[ -]?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::au_medicare),
        base: None,
        context: &["medicare"],
        ..health(
            "au_medicare",
            "Australian Medicare number",
            10,
            r"\b(\d{4} ?\d{5} ?\d{1,2})\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &["icd", "icd-10", "icd10", "diagnosis", "diagnosed", "dx"],
        ..health(
            "icd10_code",
            "ICD-10 diagnosis code",
            2,
            r"\b([A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?)\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &["ndc", "national drug code"],
        ..health(
            "ndc_code",
            "US National Drug Code (NDC)",
            8,
            r"\b(\d{4,5}-\d{3,4}-\d{1,2})\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &["mrn", "medical record", "patient id", "chart number"],
        validate: Some(|raw| !v::is_trivial_digits(&v::digits(raw))),
        ..health(
            "medical_record_number",
            "Medical record number (MRN)",
            6,
            r"\b([A-Z]{0,3}\d{6,10})\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &[
            "health plan",
            "member id",
            "insurance id",
            "subscriber id",
            "policy number",
        ],
        ..health(
            "health_plan_id",
            "Health plan beneficiary / member number",
            6,
            r"\b([A-Z]{2,3}\d{6,12})\b",
        )
    },
    Spec {
        base: None,
        context: &["ehic", "european health insurance"],
        ..health(
            "eu_ehic",
            "European health insurance card number",
            10,
            r"\b(80\d{18})\b",
        )
    },
];
