//! Every conversion into `axle.common.v1.Money` (google.type.Money's shape: units and
//! nanos of the same sign), and the one way a price is written as text.

use contracts::axle::common::v1::{Alternative, Money, MoneyFact, StringFact};

/// An exact amount from whole units and nanos.
pub fn from_units_nanos(currency: &str, units: i64, nanos: i32) -> Money {
    Money {
        currency_code: currency.to_owned(),
        units,
        nanos,
    }
}

/// A decimal amount (a configured price such as 0.5 CNY), rounded to the nano.
pub fn from_decimal(currency: &str, amount: f64) -> Money {
    let nanos_total = (amount * 1e9).round();
    // Prices are configured far below i64::MAX nanos; `as` saturates beyond.
    #[allow(clippy::cast_possible_truncation)]
    let total = nanos_total as i64;
    #[allow(clippy::cast_possible_truncation)]
    let nanos = (total % 1_000_000_000) as i32;
    from_units_nanos(currency, total / 1_000_000_000, nanos)
}

/// A price quoted in 万元 ("122.43", "9.98万") as exact CNY; `None` when the text is not
/// a price (see `domain::money::wan_yuan_to_cny`).
pub fn cny_from_wan_yuan(text: &str) -> Option<Money> {
    let (units, nanos) = domain::money::wan_yuan_to_cny(text)?;
    Some(from_units_nanos("CNY", units, nanos))
}

/// A merged price quoted in 万元 as a MoneyFact in exact CNY, with the same confidence and
/// provenance; its alternatives read as MoneyFact promises ("CNY 129900.00"), a text that
/// is no price as sent. `None` when the chosen text is no price.
pub fn from_wan_yuan_fact(fact: &StringFact) -> Option<MoneyFact> {
    Some(MoneyFact {
        value: Some(cny_from_wan_yuan(&fact.value)?),
        confidence: fact.confidence,
        provenance: fact.provenance.clone(),
        alternatives: fact
            .alternatives
            .iter()
            .map(|a| Alternative {
                value: cny_from_wan_yuan(&a.value).map_or_else(|| a.value.clone(), |m| display(&m)),
                ..a.clone()
            })
            .collect(),
    })
}

/// The amount in billionths, for exact comparison.
pub fn total_nanos(m: &Money) -> i128 {
    i128::from(m.units) * 1_000_000_000 + i128::from(m.nanos)
}

/// Prices that differ by less than one unit of their currency are the same price (a
/// catalogue rounds to the yuan, another vendor gives fen).
pub fn same_price(a: &Money, b: &Money) -> bool {
    a.currency_code == b.currency_code && total_nanos(a).abs_diff(total_nanos(b)) < 1_000_000_000
}

/// "CNY 1224300.50": how a price is written where a text is needed (alternatives,
/// disagreements), rounded to the cent.
pub fn display(m: &Money) -> String {
    let nanos = total_nanos(m);
    let cents = (nanos + nanos.signum() * 5_000_000) / 10_000_000;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!(
        "{} {sign}{}.{:02}",
        m.currency_code,
        cents / 100,
        cents % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_units_and_nanos() {
        assert_eq!(
            from_decimal("CNY", 0.5),
            from_units_nanos("CNY", 0, 500_000_000)
        );
        assert_eq!(
            from_decimal("CNY", 12.25),
            from_units_nanos("CNY", 12, 250_000_000)
        );
        assert_eq!(from_decimal("CNY", 0.0), from_units_nanos("CNY", 0, 0));
    }

    #[test]
    fn prices_are_shown_and_compared_exactly() {
        let p = from_units_nanos("CNY", 1_224_300, 500_000_000);
        assert_eq!(display(&p), "CNY 1224300.50");
        assert_eq!(total_nanos(&p), 1_224_300_500_000_000);
        assert_eq!(
            display(&from_units_nanos("CNY", -1, -500_000_000)),
            "CNY -1.50"
        );
        assert!(same_price(&p, &from_units_nanos("CNY", 1_224_300, 0)));
        assert!(!same_price(&p, &from_units_nanos("CNY", 1_224_302, 0)));
        assert!(!same_price(
            &p,
            &from_units_nanos("USD", 1_224_300, 500_000_000)
        ));
    }

    #[test]
    fn wan_yuan_quotes_are_exact_cny() {
        let m = cny_from_wan_yuan("122.43").expect("price");
        assert_eq!((m.units, m.nanos), (1_224_300, 0));
        assert_eq!(cny_from_wan_yuan("面议"), None);
        let fact = from_wan_yuan_fact(&StringFact {
            value: "12.99".to_owned(),
            confidence: 0.8,
            alternatives: vec![
                Alternative {
                    value: "13.5万".to_owned(),
                    ..Alternative::default()
                },
                Alternative {
                    value: "面议".to_owned(),
                    ..Alternative::default()
                },
            ],
            ..StringFact::default()
        })
        .expect("a price");
        assert_eq!(fact.value.map(|m| m.units), Some(129_900));
        assert_eq!(fact.alternatives[0].value, "CNY 135000.00");
        assert_eq!(fact.alternatives[1].value, "面议", "no price: as sent");
    }
}
