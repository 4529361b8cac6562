//! Model year from position 10 (49 CFR 565.15(a), ISO 3779 annex).
//!
//! The code repeats every 30 years: 'A' is 1980 or 2010 (or 2040). North-American light
//! vehicles disambiguate by position 7 (numeric: 1980-2009, letter: 2010-2039); everyone
//! else is read as the most recent year not after next year (a model year may be sold a
//! year ahead), which is right for any vehicle still on the road and younger than 30.
//!
//! 49 CFR 565.15 ties position 7 to the cycle only for passenger cars, MPVs and trucks of
//! 10 000 lb GVWR or less. Heavy trucks, buses and trailers carry a digit or a letter there
//! whatever their year. vPIC types pickups and tractors alike as "Truck", so the makers of
//! heavy trucks are listed apart (data/wmi_na_heavy.tsv, type "Heavy Truck"): their VINs,
//! trailers', motorcycles', low-speed, off-road and incomplete vehicles' are read by
//! recency; a "Truck" WMI is read as the light truck most of them are. An NA WMI of
//! unknown type whose position-7 reading lies beyond next year is read by recency too: it
//! may be a heavy truck's, and a VIN is not declared wrong on a guess. Buses are read like
//! an unknown type: motor-coach makers follow position 7 (vPIC dates MCI's
//! 1M8GDM9AXKP042788 1989 by its schema, as position 7 does), but a bus is not declared
//! wrong when position 7 points beyond next year.

/// How the year was chosen among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelYearBasis {
    Position7,
    MostRecent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelYearReport {
    pub year: i32,
    /// Every year the code can mean, from 1980 to `current_year + 1`, oldest first.
    pub candidates: Vec<i32>,
    pub code: char,
    pub basis: ModelYearBasis,
}

/// Offset of a year code within the cycle starting at 1980 ('A' = 0 ... '9' = 29).
fn code_offset(c: u8) -> Option<i32> {
    const CODES: &[u8; 30] = b"ABCDEFGHJKLMNPRSTVWXY123456789";
    CODES
        .iter()
        .position(|&x| x == c)
        .and_then(|p| i32::try_from(p).ok())
}

/// Whether position 7 settles the cycle: a North-American WMI of a light vehicle (WMIs of
/// unknown type count as light, as most are).
fn position_7_applies(vin: &[u8], vehicle_type: Option<&str>) -> bool {
    let (Some(&first), Some(&second)) = (vin.first(), vin.get(1)) else {
        return false;
    };
    super::north_american(first, second)
        && !vehicle_type.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            [
                "heavy",
                "trailer",
                "motorcycle",
                "incomplete",
                "low speed",
                "off road",
            ]
            .iter()
            .any(|k| t.contains(k))
        })
}

/// The model year of a normalised 17-character VIN, `None` when position 10 is not a
/// year code (I O Q U Z 0 are never year codes). `vehicle_type` is the WMI's registered
/// type, when known ("Passenger Car", "MPV", "Truck" ...).
///
/// A North-American light vehicle's year comes from position 7 even when that year lies
/// beyond next year; the caller reports that as an inconsistency.
pub fn model_year(
    vin: &[u8],
    current_year: i32,
    vehicle_type: Option<&str>,
) -> Option<ModelYearReport> {
    let code = *vin.get(9)?;
    let offset = code_offset(code)?;
    let latest = current_year + 1;
    // 1980 + 4 cycles reaches 2100: far beyond any current year this code will see.
    let candidates: Vec<i32> = (0..4)
        .map(|cycle| 1980 + offset + 30 * cycle)
        .take_while(|y| *y <= latest.max(1980 + offset))
        .collect();
    let north_american = position_7_applies(vin, vehicle_type);
    let recent = (
        *candidates.last().unwrap_or(&(1980 + offset)),
        ModelYearBasis::MostRecent,
    );
    let (year, basis) = match (north_american, vin.get(6)) {
        (true, Some(p7)) if p7.is_ascii_digit() => (1980 + offset, ModelYearBasis::Position7),
        (true, Some(p7)) if p7.is_ascii_uppercase() => {
            let year = 2010 + offset;
            if year > latest && vehicle_type.is_none_or(|t| t.eq_ignore_ascii_case("bus")) {
                recent
            } else {
                (year, ModelYearBasis::Position7)
            }
        }
        _ => recent,
    };
    Some(ModelYearReport {
        year,
        candidates,
        code: char::from(code),
        basis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year(vin: &str, now: i32) -> Option<(i32, ModelYearBasis)> {
        model_year(vin.as_bytes(), now, None).map(|r| (r.year, r.basis))
    }

    #[test]
    fn north_america_uses_position_7() {
        // 1HGCM82633A004352: position 7 '6' numeric, code '3' -> 2003.
        assert_eq!(
            year("1HGCM82633A004352", 2026),
            Some((2003, ModelYearBasis::Position7))
        );
        // Letter at position 7, code 'A' -> 2010 even though 1980 is also a candidate.
        assert_eq!(
            year("1G1ZT5STXAF000000", 2026),
            Some((2010, ModelYearBasis::Position7))
        );
    }

    #[test]
    fn elsewhere_the_most_recent_year_not_after_next_year() {
        assert_eq!(
            year("WP0AA2978BL012976", 2026),
            Some((2011, ModelYearBasis::MostRecent))
        );
        // 'T' is 1996 or 2026; in 2026 the vehicle is a 2026.
        assert_eq!(
            year("LSVAG2180T2100010", 2026),
            Some((2026, ModelYearBasis::MostRecent))
        );
        // 'V' (2027) is allowed a year ahead, 'W' (2028) is not yet: it means 1998.
        assert_eq!(
            year("LSVAG2180V2100010", 2026),
            Some((2027, ModelYearBasis::MostRecent))
        );
        assert_eq!(
            year("LSVAG2180W2100010", 2026),
            Some((1998, ModelYearBasis::MostRecent))
        );
        let r = model_year(b"LSVAG2180A2100010", 2026, None).expect("code");
        assert_eq!(r.candidates, vec![1980, 2010]);
    }

    #[test]
    fn heavy_trucks_are_read_by_recency_light_trucks_by_position_7() {
        // Kenworth 2017: a digit at position 7, as heavy trucks carry whatever the year.
        let r = model_year(b"1XKYD49X8HJ123456", 2026, Some("Heavy Truck")).expect("code");
        assert_eq!((r.year, r.basis), (2017, ModelYearBasis::MostRecent));
        assert_eq!(r.candidates, vec![1987, 2017]);
        // A 1996 Chevrolet C1500 pickup: a "Truck" WMI, light, so position 7 decides.
        let r = model_year(b"1GCEC14W6TZ228585", 2026, Some("Truck")).expect("code");
        assert_eq!((r.year, r.basis), (1996, ModelYearBasis::Position7));
        // Tesla Austin (7SA, United States since 7F-70 went to the US).
        let r = model_year(b"7SAYGDEE7NF449780", 2026, Some("MPV")).expect("code");
        assert_eq!((r.year, r.basis), (2022, ModelYearBasis::Position7));
    }

    #[test]
    fn an_unknown_wmi_is_not_given_an_impossible_year() {
        // An International truck (letter at position 7, code 3): 2033 by position 7, so
        // an unknown-type NA WMI is read by recency instead.
        let r = model_year(b"1HTMMAAN23H601246", 2026, None).expect("code");
        assert_eq!((r.year, r.basis), (2003, ModelYearBasis::MostRecent));
    }

    #[test]
    fn a_position_7_year_beyond_next_year_is_still_reported_for_the_caller_to_flag() {
        // Letter at position 7 and 'Y' at 10: 2030, impossible in 2026.
        let r = model_year(b"1G1ZT5ST3YF000000", 2026, Some("Passenger Car")).expect("code");
        assert_eq!(r.year, 2030);
        assert!(!r.candidates.contains(&2030));
    }

    #[test]
    fn non_year_codes() {
        for c in ["0", "U", "Z", "I", "O", "Q"] {
            let vin = format!("WP0AA2978{c}L012976");
            assert_eq!(year(&vin, 2026), None, "{c}");
        }
    }
}
