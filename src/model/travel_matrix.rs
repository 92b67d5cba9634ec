//! Commune-to-commune travel times (a distancier).

use std::collections::HashMap;

use super::InseeCode;

/// Commune-to-commune car minutes (CSV `from,to,minutes`, e.g. INSEE Metric or an OSRM
/// table export).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TravelMatrix {
    minutes: HashMap<(InseeCode, InseeCode), f64>,
}

impl TravelMatrix {
    pub fn insert(&mut self, from: InseeCode, to: InseeCode, minutes: f64) {
        self.minutes.insert((from, to), minutes);
    }

    /// Minutes from `from` to `to`; a commune to itself is 0 unless the table says more.
    pub fn minutes(&self, from: &InseeCode, to: &InseeCode) -> Option<f64> {
        self.minutes
            .get(&(from.clone(), to.clone()))
            .copied()
            .or_else(|| (from == to).then_some(0.0))
    }

    /// Every pair, sorted by (from, to).
    pub fn entries(&self) -> Vec<(&InseeCode, &InseeCode, f64)> {
        let mut v: Vec<_> = self.minutes.iter().map(|((f, t), m)| (f, t, *m)).collect();
        v.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        v
    }

    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }
}
