//! The detectors' settings: thresholds, the geolocation database, trusted networks.

use std::path::PathBuf;

use ipnet::IpNet;

use crate::config::{optional_env, ConfigError};

/// Personal mail services (Chronicle's list: gmail, aol, ymail, hotmail, outlook, icloud, and
/// their siblings). A name matches its domain under any country suffix (`hotmail.co.uk`).
pub const PERSONAL_MAIL_NAMES: [&str; 14] = [
    "gmail",
    "googlemail",
    "aol",
    "ymail",
    "yahoo",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "icloud",
    "protonmail",
    "gmx",
    "yandex",
    "mail",
];

/// Provider event names that grant administrative roles: Box, Google Workspace (Admin audit),
/// Microsoft 365 (unified audit log). Compared without case.
pub const ADMIN_GRANT_EVENTS: [&str; 5] = [
    "CHANGE_ADMIN_ROLE",
    "GRANT_ADMIN_PRIVILEGE",
    "ASSIGN_ROLE",
    "Add member to role.",
    "Add member to role",
];

#[derive(Debug, Clone)]
pub struct ThreatSettings {
    /// `CASB_THREAT_DETECTION` (default on).
    pub enabled: bool,
    /// A MaxMind-format (`.mmdb`) city database: `CASB_GEOIP_DB`. Without it, and without the
    /// provider's own coordinates, the geographic detectors are off.
    pub geoip_db: Option<PathBuf>,
    /// Faster than this between two successful sign-ins is impossible travel
    /// (`CASB_THREAT_TRAVEL_KMH`, 900 km/h).
    pub travel_speed_kmh: f64,
    /// Hops shorter than this, after taking off both places' accuracy radii, are geolocation
    /// error (`CASB_THREAT_TRAVEL_MIN_KM`, 50 km).
    pub travel_min_km: f64,
    /// Networks whose sign-ins say nothing about where the user is: VPN egress, proxies
    /// (`CASB_THREAT_TRUSTED_NETWORKS`, CIDRs separated by commas).
    pub trusted_networks: Vec<IpNet>,
    /// A user's first sign-in must be this old before a new country counts
    /// (`CASB_THREAT_NEW_COUNTRY_MIN_DAYS`, 7).
    pub new_country_min_days: i64,
    /// Failed sign-ins within the window that make a brute force
    /// (`CASB_THREAT_BRUTE_FORCE_FAILURES`, 20).
    pub brute_force_failures: u32,
    /// The burst window of brute force and mass actions (`CASB_THREAT_WINDOW_MINUTES`, 60).
    pub window_minutes: i64,
    /// The fixed floors of the mass-action detectors, per window
    /// (`CASB_THREAT_MASS_DOWNLOADS`, `CASB_THREAT_MASS_DELETIONS`, `CASB_THREAT_MASS_SHARES`:
    /// 100 each, the public rules' thresholds).
    pub mass_downloads: u32,
    pub mass_deletions: u32,
    pub mass_shares: u32,
    /// Active days of history before a user's own baseline counts
    /// (`CASB_THREAT_BASELINE_MIN_DAYS`, 7).
    pub baseline_min_days: usize,
    /// How many robust deviations (1.4826 × MAD) above the median of the user's daily peaks a
    /// burst must reach (`CASB_THREAT_BASELINE_DEVIATIONS`, 6).
    pub baseline_deviations: f64,
    /// Active days before the hour-of-day profile counts (`CASB_THREAT_HOURS_MIN_DAYS`, 14).
    pub unusual_hours_min_days: usize,
    /// An hour (with its neighbours) holding less than this share of the user's activity is
    /// unusual (`CASB_THREAT_HOURS_MAX_SHARE`, 0.01).
    pub unusual_hours_max_share: f64,
    /// Extra personal mail domains (`CASB_THREAT_PERSONAL_DOMAINS`), besides the services in
    /// [`PERSONAL_MAIL_NAMES`].
    pub personal_domains: Vec<String>,
    /// Event names that grant administrative roles (`CASB_THREAT_ADMIN_GRANT_EVENTS`); default
    /// [`ADMIN_GRANT_EVENTS`].
    pub admin_grant_events: Vec<String>,
}

impl Default for ThreatSettings {
    fn default() -> Self {
        ThreatSettings {
            enabled: true,
            geoip_db: None,
            travel_speed_kmh: 900.0,
            travel_min_km: 50.0,
            trusted_networks: Vec::new(),
            new_country_min_days: 7,
            brute_force_failures: 20,
            window_minutes: 60,
            mass_downloads: 100,
            mass_deletions: 100,
            mass_shares: 100,
            baseline_min_days: 7,
            baseline_deviations: 6.0,
            unusual_hours_min_days: 14,
            unusual_hours_max_share: 0.01,
            personal_domains: Vec::new(),
            admin_grant_events: ADMIN_GRANT_EVENTS.iter().map(|e| e.to_string()).collect(),
        }
    }
}

fn parsed<T: std::str::FromStr>(
    name: &'static str,
    default: T,
    hint: &'static str,
) -> Result<T, ConfigError> {
    match optional_env(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid { name, value, hint }),
    }
}

fn list(name: &str) -> Option<Vec<String>> {
    optional_env(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

impl ThreatSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = ThreatSettings::default();
        let number = "a positive number";
        let whole = "a whole number";
        let trusted_networks = list("CASB_THREAT_TRUSTED_NETWORKS")
            .unwrap_or_default()
            .into_iter()
            .map(|n| parse_network(&n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|value| ConfigError::Invalid {
                name: "CASB_THREAT_TRUSTED_NETWORKS",
                value,
                hint: "networks in CIDR form (203.0.113.0/24) or single addresses, separated by commas",
            })?;
        Ok(ThreatSettings {
            enabled: !matches!(
                optional_env("CASB_THREAT_DETECTION").as_deref(),
                Some("0" | "false" | "no" | "off")
            ),
            geoip_db: optional_env("CASB_GEOIP_DB").map(PathBuf::from),
            travel_speed_kmh: parsed("CASB_THREAT_TRAVEL_KMH", d.travel_speed_kmh, number)?,
            travel_min_km: parsed("CASB_THREAT_TRAVEL_MIN_KM", d.travel_min_km, number)?,
            trusted_networks,
            new_country_min_days: parsed(
                "CASB_THREAT_NEW_COUNTRY_MIN_DAYS",
                d.new_country_min_days,
                whole,
            )?,
            brute_force_failures: parsed(
                "CASB_THREAT_BRUTE_FORCE_FAILURES",
                d.brute_force_failures,
                whole,
            )?
            .max(1),
            window_minutes: parsed("CASB_THREAT_WINDOW_MINUTES", d.window_minutes, whole)?
                .clamp(1, 24 * 60),
            mass_downloads: parsed("CASB_THREAT_MASS_DOWNLOADS", d.mass_downloads, whole)?.max(1),
            mass_deletions: parsed("CASB_THREAT_MASS_DELETIONS", d.mass_deletions, whole)?.max(1),
            mass_shares: parsed("CASB_THREAT_MASS_SHARES", d.mass_shares, whole)?.max(1),
            baseline_min_days: parsed("CASB_THREAT_BASELINE_MIN_DAYS", d.baseline_min_days, whole)?
                .max(1),
            baseline_deviations: parsed(
                "CASB_THREAT_BASELINE_DEVIATIONS",
                d.baseline_deviations,
                number,
            )?,
            unusual_hours_min_days: parsed(
                "CASB_THREAT_HOURS_MIN_DAYS",
                d.unusual_hours_min_days,
                whole,
            )?
            .max(1),
            unusual_hours_max_share: parsed(
                "CASB_THREAT_HOURS_MAX_SHARE",
                d.unusual_hours_max_share,
                number,
            )?,
            personal_domains: list("CASB_THREAT_PERSONAL_DOMAINS")
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            admin_grant_events: list("CASB_THREAT_ADMIN_GRANT_EVENTS")
                .unwrap_or(d.admin_grant_events),
        })
    }

    /// Whether the address is in a trusted network (VPN egress).
    pub fn is_trusted(&self, address: &str) -> bool {
        address
            .parse::<std::net::IpAddr>()
            .map(|ip| self.trusted_networks.iter().any(|n| n.contains(&ip)))
            .unwrap_or(false)
    }

    /// Whether `domain` is a personal mail service's.
    pub fn is_personal_domain(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if self.personal_domains.iter().any(|d| *d == domain)
            || ["me.com", "mac.com", "proton.me", "pm.me"].contains(&domain.as_str())
        {
            return true;
        }
        // `hotmail.co.uk`, `yahoo.fr`: the service's name, then a country or generic suffix
        // (one or two short labels). `mail.example.com` is not `mail.com`.
        let mut labels = domain.split('.');
        let Some(name) = labels.next() else {
            return false;
        };
        let suffix: Vec<&str> = labels.collect();
        PERSONAL_MAIL_NAMES.contains(&name)
            && (1..=2).contains(&suffix.len())
            && suffix.iter().all(|l| (2..=3).contains(&l.len()))
            && !(name == "mail" && suffix != ["com"])
    }

    pub fn is_admin_grant_event(&self, event_name: &str) -> bool {
        self.admin_grant_events
            .iter()
            .any(|e| e.eq_ignore_ascii_case(event_name.trim()))
    }
}

fn parse_network(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_mail_domains_match_services_under_any_country_suffix_but_not_lookalikes() {
        let settings = ThreatSettings {
            personal_domains: vec!["posteo.de".into()],
            ..ThreatSettings::default()
        };
        for personal in [
            "gmail.com",
            "GMAIL.COM",
            "hotmail.co.uk",
            "yahoo.fr",
            "icloud.com",
            "me.com",
            "outlook.com",
            "posteo.de",
            "mail.com",
        ] {
            assert!(settings.is_personal_domain(personal), "{personal}");
        }
        for business in [
            "example.com",
            "gmail.example.com",
            "mail.example.com",
            "outlook.office365.com",
            "acme-gmail.com",
            "mail.co.uk",
        ] {
            assert!(!settings.is_personal_domain(business), "{business}");
        }
    }

    #[test]
    fn trusted_networks_take_cidrs_and_single_addresses() {
        let settings = ThreatSettings {
            trusted_networks: vec![
                parse_network("198.51.100.0/24").unwrap(),
                parse_network("2001:db8::1").unwrap(),
            ],
            ..ThreatSettings::default()
        };
        assert!(settings.is_trusted("198.51.100.77"));
        assert!(settings.is_trusted("2001:db8::1"));
        assert!(!settings.is_trusted("198.51.101.1"));
        assert!(!settings.is_trusted("not an address"));
        assert!(parse_network("10.0.0.0/33").is_err());
    }
}
