//! Coordinate reference systems: the only projection code of the crate.
//!
//! FINESS gives Lambert-93 in metropolitan France and local UTM zones overseas; we
//! convert everything to WGS84 longitude/latitude once, at import.

/// A projected CRS found in French official files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    /// EPSG:2154 RGF93 v1 / Lambert-93 (metropolitan France, Corsica).
    Lambert93,
    /// EPSG:5490 RGAF09 / UTM zone 20N (Guadeloupe, Martinique, Saint-Martin, Saint-Barthélemy).
    Utm20nRgaf09,
    /// EPSG:2972 RGFG95 / UTM zone 22N (Guyane).
    Utm22nRgfg95,
    /// EPSG:2975 RGR92 / UTM zone 40S (La Réunion).
    Utm40sRgr92,
    /// EPSG:4471 RGM04 / UTM zone 38S (Mayotte).
    Utm38sRgm04,
    /// EPSG:32621 WGS 84 / UTM zone 21N (Saint-Pierre-et-Miquelon).
    Utm21nWgs84,
}
