//! Zonage review: APL values classed by the national rules (DREES/DGOS FAQ: ≤ 2.5
//! ZIP-eligible, 2.5–4 vivier, > 4 outside) and crossed with the official doctors'
//! zonage of a territory.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::engine::Engine;
use crate::model::{Territory, TerritoryType};

use super::Accessibility;

/// Official indicator of the DREES reference APL (GPs aged 65 or less).
pub const DREES_APL_INDICATOR: &str = "apl_mg_65";
/// Official doctors' zonage, text indicator (`1_ZIP`, `2_ZAC`, `3_HZ`, `4_ZAR`, …).
pub const ZONAGE_INDICATOR: &str = "zonage_mg";
/// APL at or below this → selected nationally as ZIP (DREES/DGOS FAQ).
pub const ZIP_MAX: f64 = 2.5;
/// APL above [`ZIP_MAX`] and at or below this → "vivier" (ARS choice of ZIP / ZAC).
pub const VIVIER_MAX: f64 = 4.0;

/// Class of a GP accessibility value in the national zonage rules (DREES/DGOS FAQ,
/// arrêté du 13 novembre 2017).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZonageClass {
    /// APL ≤ 2.5: selected nationally as ZIP.
    ZipEligible,
    /// 2.5 < APL ≤ 4: the "vivier" where ARS choose extra ZIP and the ZAC.
    Vivier,
    /// APL > 4: outside the vivier.
    Outside,
}

impl ZonageClass {
    /// Classifies an APL value (consultations/an/habitant standardisé).
    pub fn of(apl: f64) -> ZonageClass {
        if apl <= ZIP_MAX {
            ZonageClass::ZipEligible
        } else if apl <= VIVIER_MAX {
            ZonageClass::Vivier
        } else {
            ZonageClass::Outside
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZonageClass::ZipEligible => "zip_eligible",
            ZonageClass::Vivier => "vivier",
            ZonageClass::Outside => "hors_vivier",
        }
    }
}

/// Which APL values a zonage review classifies.
#[derive(Debug, Clone, Copy)]
pub enum ZonageValues<'a> {
    /// Our accessibility (meaningful for the `mg` profile only).
    Accessibility(&'a Accessibility),
    /// The DREES APL 2021 reference for GPs aged 65 or less (`apl_mg_65`).
    DreesApl65,
}

/// One cell of the agreement table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageCell {
    /// Our class; `None` where the value is missing.
    pub ours: Option<ZonageClass>,
    /// Official `zonage_mg` code (`1_ZIP`, `2_ZAC`, `3_HZ`, `4_ZAR`, `N/A - …`), or
    /// `absent`.
    pub official: String,
    pub communes: usize,
    pub population: u64,
    /// Whether the cell counts as agreement ([`AGREEMENT_RULE`]); `None`: not compared
    /// (no value, or no official ZIP / ZAC / HZ / ZAR code).
    pub agrees: Option<bool>,
}

/// Which cells count as agreement, and why.
pub const AGREEMENT_RULE: &str = "accord = éligible ZIP face à une ZIP officielle, ou non éligible ZIP (vivier, hors vivier) face à une zone officielle autre que ZIP (ZAC, HZ, ZAR) ; seule la frontière ZIP est comparée, parce que le seuil national (APL ≤ 2,5) ne fixe que les ZIP et que dans le vivier l'ARS choisit entre ZIP et ZAC : « hors vivier » face à une ZAC compte donc comme un accord ; non comparé : valeur manquante ou code officiel absent / N/A";

/// Share of communes where ZIP-eligible ↔ official ZIP agree ([`AGREEMENT_RULE`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageAgreement {
    /// [`AGREEMENT_RULE`].
    pub rule: &'static str,
    /// Communes with both a value and an official code among ZIP / ZAC / HZ / ZAR.
    pub communes_compared: usize,
    /// Of which: ZIP-eligible and official ZIP, or not ZIP-eligible and not ZIP.
    pub communes_agree: usize,
    pub share_communes: Option<f64>,
    pub population_compared: u64,
    pub population_agree: u64,
    pub share_population: Option<f64>,
}

/// Our (or the DREES) APL classes against the official zonage, for one territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageReview {
    pub territory_type: TerritoryType,
    pub territory_code: String,
    pub territory_name: String,
    /// `accessibility:<profile>` or `apl_mg_65`.
    pub values: String,
    pub rule: &'static str,
    /// Always "à confirmer": the zonage layer is a low-provenance national file.
    pub status: &'static str,
    pub caveats: Vec<String>,
    /// Cells in class order (ours: ZIP-eligible, vivier, outside, missing; then the
    /// official code).
    pub cells: Vec<ZonageCell>,
    pub agreement: ZonageAgreement,
}

const OFFICIAL_CODES: [&str; 4] = ["1_ZIP", "2_ZAC", "3_HZ", "4_ZAR"];

/// [`AGREEMENT_RULE`] for one cell.
fn agrees(ours: Option<ZonageClass>, official: &str) -> Option<bool> {
    let class = ours?;
    OFFICIAL_CODES
        .contains(&official)
        .then(|| (class == ZonageClass::ZipEligible) == (official == "1_ZIP"))
}

impl Engine {
    /// Classifies APL values (≤ 2.5 ZIP-eligible; ≤ 4 vivier; above, outside) and
    /// crosses them with the official zonage (`zonage_mg`) of a territory.
    pub fn zonage_review(&self, values: ZonageValues<'_>, territory: &Territory) -> ZonageReview {
        let (members, _) = self.members(territory);
        let official = self.data.indicators.text.get(ZONAGE_INDICATOR);
        let value = |i: usize| match values {
            ZonageValues::Accessibility(acc) => acc.value(i),
            ZonageValues::DreesApl65 => self.data.indicator(DREES_APL_INDICATOR, i),
        };
        let mut cells: BTreeMap<(Option<ZonageClass>, String), (usize, u64)> = BTreeMap::new();
        let mut agreement = ZonageAgreement {
            rule: AGREEMENT_RULE,
            communes_compared: 0,
            communes_agree: 0,
            share_communes: None,
            population_compared: 0,
            population_agree: 0,
            share_population: None,
        };
        for &i in &members {
            let pop = u64::from(self.data.communes[i].population);
            let ours = value(i).filter(|v| v.is_finite()).map(ZonageClass::of);
            let code = official
                .and_then(|col| col.get(i).cloned().flatten())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "absent".to_owned());
            if let Some(agrees) = agrees(ours, &code) {
                agreement.communes_compared += 1;
                agreement.population_compared += pop;
                if agrees {
                    agreement.communes_agree += 1;
                    agreement.population_agree += pop;
                }
            }
            let cell = cells.entry((ours, code)).or_default();
            cell.0 += 1;
            cell.1 += pop;
        }
        if agreement.communes_compared > 0 {
            agreement.share_communes =
                Some(agreement.communes_agree as f64 / agreement.communes_compared as f64);
        }
        if agreement.population_compared > 0 {
            agreement.share_population =
                Some(agreement.population_agree as f64 / agreement.population_compared as f64);
        }
        // Missing values last.
        let mut cells: Vec<ZonageCell> = cells
            .into_iter()
            .map(|((ours, official), (communes, population))| ZonageCell {
                agrees: agrees(ours, &official),
                ours,
                official,
                communes,
                population,
            })
            .collect();
        cells.sort_by_key(|c| (c.ours.is_none(), c.ours));
        let mut caveats = vec![
            "zonage à confirmer : fichier national de faible provenance (millésime inconnu, vers 2024-2025), à vérifier avec les arrêtés ARS".to_owned(),
            "le zonage est arrêté par territoire de vie-santé (APL moyenne pondérée par la population) et les ARS choisissent des ZIP dans le vivier : un écart commune par commune n'est pas une erreur".to_owned(),
        ];
        let name = match values {
            ZonageValues::Accessibility(acc) => {
                if let Some(c) = &acc.caveat {
                    caveats.push(c.clone());
                }
                format!("accessibility:{}", acc.profile.id)
            }
            ZonageValues::DreesApl65 => {
                caveats.push(
                    "APL DREES 2021 (médecins de 65 ans et moins) : antérieure au zonage comparé"
                        .to_owned(),
                );
                DREES_APL_INDICATOR.to_owned()
            }
        };
        ZonageReview {
            territory_type: territory.kind,
            territory_code: territory.code.clone(),
            territory_name: territory.name.clone(),
            values: name,
            rule: "APL ≤ 2,5 → éligible ZIP ; 2,5 < APL ≤ 4 → vivier ; APL > 4 → hors vivier (FAQ DREES/DGOS)",
            status: "à confirmer",
            caveats,
            cells,
            agreement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InseeCode;
    use crate::test_support::{commune, engine};

    fn indicator(e: &mut Engine, name: &str, values: Vec<Option<f64>>) {
        e.data.indicators.numeric.insert(name.to_owned(), values);
    }

    #[test]
    fn zonage_classes_follow_the_faq() {
        assert_eq!(ZonageClass::of(0.0), ZonageClass::ZipEligible);
        assert_eq!(ZonageClass::of(2.5), ZonageClass::ZipEligible);
        assert_eq!(ZonageClass::of(2.500_001), ZonageClass::Vivier);
        assert_eq!(ZonageClass::of(4.0), ZonageClass::Vivier);
        assert_eq!(ZonageClass::of(4.000_001), ZonageClass::Outside);
    }

    #[test]
    fn zonage_review_table() {
        let codes = ["79001", "79002", "79003", "79004", "79005", "79006"];
        let mut e = engine(
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| commune(c, -0.3, 46.5 + 0.01 * i as f64, 100 * (i as u32 + 1)))
                .collect(),
            vec![],
        );
        indicator(
            &mut e,
            DREES_APL_INDICATOR,
            vec![Some(2.0), Some(2.5), Some(3.0), Some(5.0), None, Some(1.0)],
        );
        let official = [
            "1_ZIP",
            "2_ZAC",
            "1_ZIP",
            "3_HZ",
            "1_ZIP",
            "N/A - résultat non disponible",
        ];
        e.data.indicators.text.insert(
            ZONAGE_INDICATOR.to_owned(),
            official.iter().map(|s| Some((*s).to_owned())).collect(),
        );
        let t = Territory {
            kind: TerritoryType::Departement,
            code: "79".to_owned(),
            name: "Deux-Sèvres".to_owned(),
            communes: codes.iter().map(|c| InseeCode::parse(c).unwrap()).collect(),
        };
        let z = e.zonage_review(ZonageValues::DreesApl65, &t);
        assert_eq!(z.status, "à confirmer");
        assert_eq!(z.values, "apl_mg_65");
        // Compared: 79001 (zip/ZIP agree), 79002 (zip/ZAC disagree), 79003 (vivier/ZIP
        // disagree), 79004 (outside/HZ agree); 79005 has no value, 79006 no official class.
        let a = &z.agreement;
        assert_eq!((a.communes_compared, a.communes_agree), (4, 2));
        assert_eq!((a.population_compared, a.population_agree), (1000, 500));
        assert_eq!(a.share_communes, Some(0.5));
        let cell = |ours: Option<ZonageClass>, off: &str| {
            z.cells
                .iter()
                .find(|c| c.ours == ours && c.official == off)
                .map(|c| (c.communes, c.population))
        };
        let agrees = |ours: Option<ZonageClass>, off: &str| {
            z.cells
                .iter()
                .find(|c| c.ours == ours && c.official == off)
                .and_then(|c| c.agrees)
        };
        // Each cell says whether it counts as agreement, and the rule says why: outside
        // the vivier against an official HZ (or ZAC) agrees, only the ZIP line is compared.
        assert_eq!(agrees(Some(ZonageClass::ZipEligible), "1_ZIP"), Some(true));
        assert_eq!(agrees(Some(ZonageClass::ZipEligible), "2_ZAC"), Some(false));
        assert_eq!(agrees(Some(ZonageClass::Vivier), "1_ZIP"), Some(false));
        assert_eq!(agrees(Some(ZonageClass::Outside), "3_HZ"), Some(true));
        assert_eq!(agrees(None, "1_ZIP"), None);
        assert!(a.rule.contains("hors vivier") && a.rule.contains("ZAC"));
        assert_eq!(
            cell(Some(ZonageClass::ZipEligible), "1_ZIP"),
            Some((1, 100))
        );
        assert_eq!(
            cell(Some(ZonageClass::ZipEligible), "2_ZAC"),
            Some((1, 200))
        );
        assert_eq!(
            cell(
                Some(ZonageClass::ZipEligible),
                "N/A - résultat non disponible"
            ),
            Some((1, 600))
        );
        assert_eq!(cell(None, "1_ZIP"), Some((1, 500)));
        assert_eq!(z.cells.last().unwrap().ours, None);
        assert_eq!(z.cells.iter().map(|c| c.communes).sum::<usize>(), 6);
        assert!(z.caveats[0].contains("à confirmer"));
    }
}
