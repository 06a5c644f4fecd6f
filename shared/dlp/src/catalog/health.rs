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

/// Labels that introduce a medical record number.
const MRN_LABELS: &[&str] = &[
    "mrn",
    "medical record",
    "patient id",
    "patient number",
    "chart number",
    "patientennummer",
    "numéro de dossier",
    "numero de dossier",
];

pub const SPECS: &[Spec] = &[
    Spec {
        validate: Some(v::us_npi),
        base: Confidence::Low,
        context: &["npi", "national provider", "provider id", "provider number"],
        examples: &["NPI 1987654328", "NPI: 1234509879"],
        counter_examples: &["NPI 1987654327", "NPI 3987654328"],
        ..health(
            "us_npi",
            "US National Provider Identifier (NPI)",
            10,
            r"\b(\d{10})\b",
        )
    },
    Spec {
        validate: Some(v::us_dea),
        base: Confidence::Low,
        context: &["dea", "drug enforcement", "prescriber"],
        examples: &["DEA BM3847261"],
        counter_examples: &["DEA BM3847262", "DEA NM3847261"],
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
        examples: &["Medicare MBI 2QR7-VN3-WX58"],
        counter_examples: &["Medicare MBI 2SR7-VN3-WX58", "Medicare MBI 2QR7-VN3-WX5"],
        ..health(
            "us_medicare_mbi",
            "US Medicare beneficiary identifier (MBI)",
            4,
            r"\b(\d[A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::uk_nhs),
        base: Confidence::Low,
        context: &["nhs", "national health", "health service", "patient"],
        examples: &["NHS number 401 023 2137", "401 023 2137"],
        counter_examples: &["NHS number 401 023 2138", "NHS number 111 111 1111"],
        ..health(
            "uk_nhs_number",
            "UK NHS number",
            10,
            r"\b(\d{3}[ -]?\d{3}[ -]?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::au_medicare),
        base: Confidence::Low,
        context: &["medicare"],
        examples: &["Medicare card 2950 37813 1", "3841 65023 1"],
        counter_examples: &["Medicare card 2950 37812 1", "Medicare card 1950 37813 1"],
        ..health(
            "au_medicare",
            "Australian Medicare number",
            10,
            r"\b(\d{4} ?\d{5} ?\d{1,2})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: &["icd", "icd-10", "icd10", "diagnosis", "diagnosed", "dx"],
        examples: &["Diagnosis: J45.909"],
        counter_examples: &["Diagnosis: U07.1", "diagnosis J4"],
        ..health(
            "icd10_code",
            "ICD-10 diagnosis code",
            2,
            r"\b([A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?)\b",
        )
    },
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: &["ndc", "national drug code"],
        examples: &["NDC 0777-3105-02"],
        counter_examples: &["NDC 0777-3105", "NDC 077-3105-02"],
        ..health(
            "ndc_code",
            "US National Drug Code (NDC)",
            8,
            r"\b(\d{4,5}-\d{3,4}-\d{1,2})\b",
        )
    },
    Spec {
        // A record number is any 6-10 digits: only the label says what it is (as for bank
        // accounts), so the label triggers the detector and the number must follow it.
        trigger: Trigger::Keywords(MRN_LABELS),
        base: Confidence::Medium,
        boosted: Confidence::Medium,
        context: MRN_LABELS,
        reach: 40,
        reach_back: 0,
        validate: Some(|raw| !v::is_trivial_digits(&v::digits(raw))),
        examples: &[
            "MRN: 00482913",
            "Medical record number AB4829103",
            "Patient ID 4829103",
        ],
        counter_examples: &["MRN: 11111111", "MRN: 48291", "00482913"],
        ..health(
            "medical_record_number",
            "Medical record number (MRN)",
            0,
            r"(?i:mrn|medical record|patient id|patient number|chart number|patientennummer|num(?:e|\xC3\xA9)ro de dossier)[^0-9A-Z\n]{0,20}?\b([A-Z]{0,3}\d{6,10})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: &[
            "health plan",
            "member id",
            "insurance id",
            "subscriber id",
            "policy number",
        ],
        examples: &["Member ID: XQH482913401"],
        counter_examples: &["Member ID: X48291", "Member ID: XQH48291"],
        ..health(
            "health_plan_id",
            "Health plan beneficiary / member number",
            6,
            r"\b([A-Z]{2,3}\d{6,12})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        context: &["ehic", "european health insurance"],
        examples: &["EHIC 80756000012345678901"],
        counter_examples: &["EHIC 8075600001234567890"],
        ..health(
            "eu_ehic",
            "European health insurance card number",
            10,
            r"\b(80\d{18})\b",
        )
    },
];
