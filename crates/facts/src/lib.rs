//! Merged values -> proto facts: the one place where what several sources said about a
//! field becomes a `StringFact` / `DateFact` / `Int32Fact` / `BoolFact` / `MoneyFact`
//! with provenance, confidence and alternatives, plus the response's `Disagreement` list.
//!
//! * [`agreement`]: when two sources say "the same thing" (decided once, here).
//! * [`Facts`]: the builder a service feeds field by field under its `MergePolicy`.
//! * [`money`]: every conversion into `axle.common.v1.Money` and `MoneyFact`.
//! * [`codes`]: 使用性质 and 车辆类型 facts as their code-table messages.
//! * [`confidence`]: the named confidence levels of local rules.
//!
//! Services state what each source said ([`Stated`]); they never build `Alternative` or
//! `Disagreement` messages by hand.

pub mod agreement;
mod builder;
pub mod codes;
pub mod confidence;
pub mod mask;
pub mod money;

pub use builder::{Admission, Facts, Stated};
