//! Where a sign-in came from: the provider's own placement, or a MaxMind-format database.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::GeoEnrichment;

/// A place on Earth with how far off it may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
    /// The database's accuracy radius (67 % confidence), in km; 0 when unknown.
    #[serde(default)]
    pub radius_km: f64,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

impl Place {
    /// The place an activity's geo enrichment names, when it has coordinates.
    pub fn from_geo(geo: &GeoEnrichment) -> Option<Place> {
        let (latitude, longitude) = (geo.latitude?, geo.longitude?);
        let valid = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
        valid.then(|| Place {
            latitude,
            longitude,
            radius_km: geo.accuracy_radius_km.unwrap_or(0) as f64,
            country: geo.country.clone(),
            city: geo.city.clone(),
        })
    }

    /// Great-circle distance in km (haversine, mean Earth radius).
    pub fn distance_km(&self, other: &Place) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.longitude - self.longitude).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    /// "London, GB", "GB", or the coordinates.
    pub fn describe(&self) -> String {
        match (&self.city, &self.country) {
            (Some(city), Some(country)) => format!("{city}, {country}"),
            (None, Some(country)) => country.clone(),
            (Some(city), None) => city.clone(),
            (None, None) => format!("{:.2}, {:.2}", self.latitude, self.longitude),
        }
    }
}

/// Looks addresses up in a MaxMind-format city database (GeoIP2/GeoLite2 City, DB-IP City
/// Lite), read once into memory.
#[derive(Clone)]
pub struct GeoDatabase {
    path: PathBuf,
    reader: Arc<maxminddb::Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDatabase")
            .field("path", &self.path)
            .finish()
    }
}

impl GeoDatabase {
    pub fn open(path: &Path) -> Result<Self, String> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
            format!(
                "cannot read the geolocation database {} (CASB_GEOIP_DB): {e}; give a MaxMind-format \
                 city database such as GeoLite2-City.mmdb",
                path.display()
            )
        })?;
        Ok(GeoDatabase {
            path: path.to_path_buf(),
            reader: Arc::new(reader),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the database says about the database itself, for `casb doctor`.
    pub fn describe(&self) -> String {
        let metadata = &self.reader.metadata;
        format!(
            "{} ({}, built {})",
            self.path.display(),
            metadata.database_type,
            chrono::DateTime::from_timestamp(metadata.build_epoch as i64, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "at an unknown date".into())
        )
    }

    /// The place of `address`, `None` when the database has no coordinates for it (private
    /// ranges, unknown networks) or the text is not an address.
    pub fn locate(&self, address: &str) -> Option<GeoEnrichment> {
        let ip: IpAddr = address.trim().parse().ok()?;
        let result = self.reader.lookup(ip).ok()?;
        let city: maxminddb::geoip2::City<'_> = result.decode().ok()??;
        let latitude = city.location.latitude?;
        let longitude = city.location.longitude?;
        Some(GeoEnrichment {
            country: city.country.iso_code.map(str::to_string),
            region: city
                .subdivisions
                .first()
                .and_then(|s| s.iso_code)
                .map(str::to_string),
            city: city.city.names.english.map(str::to_string),
            latitude: Some(latitude),
            longitude: Some(longitude),
            accuracy_radius_km: city.location.accuracy_radius.map(u32::from),
            ..GeoEnrichment::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(latitude: f64, longitude: f64) -> Place {
        Place {
            latitude,
            longitude,
            radius_km: 0.0,
            country: None,
            city: None,
        }
    }

    #[test]
    fn distances_match_published_great_circle_figures() {
        // London Heathrow to New York JFK: 5,540 km great-circle (published route length).
        let lhr = place(51.4700, -0.4543);
        let jfk = place(40.6413, -73.7781);
        let d = lhr.distance_km(&jfk);
        assert!((d - 5540.0).abs() < 15.0, "{d}");
        assert_eq!(lhr.distance_km(&lhr), 0.0);
        // Antipodes: half the circumference.
        let half = place(0.0, 0.0).distance_km(&place(0.0, 180.0));
        assert!((half - 20015.1).abs() < 1.0, "{half}");
    }

    #[test]
    fn coordinates_out_of_range_are_not_a_place() {
        let geo = |lat, lon| GeoEnrichment {
            latitude: Some(lat),
            longitude: Some(lon),
            ..GeoEnrichment::default()
        };
        assert!(Place::from_geo(&geo(51.5, -0.1)).is_some());
        assert!(Place::from_geo(&geo(95.0, 0.0)).is_none());
        assert!(Place::from_geo(&geo(0.0, 200.0)).is_none());
        assert!(Place::from_geo(&GeoEnrichment::default()).is_none());
    }
}
