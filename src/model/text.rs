//! Names compared as people write them (case, accents and punctuation set aside), and
//! names shown as people write them: FINESS writes names and addresses in capitals
//! (« EHPAD LES GLYCINES », « 12 RUE DE LA GARE, 79100 THOUARS »); a document shows them
//! the French way (« EHPAD les Glycines », « 12 rue de la Gare, 79100 Thouars »).
//!
//! The rules are those of the web page's `displayName`/`displayAddress`
//! (`web/js/format.js`): title case, the small words in lower case, acronyms, initialisms
//! and Roman numerals kept; text that already holds a lower-case letter is someone's
//! choice and is kept. Here a [`Lexicon`] also gives back the accents capitals dropped
//! (« SEVRES » → « Sèvres ») and the common words of structure names in lower case
//! (« CENTRE HOSPITALIER » → « Centre hospitalier »).

use std::collections::HashMap;

/// Folds a name for comparison: lowercase, accents removed, `-`, `'` and `’` as spaces,
/// spaces collapsed ("Saint-Étienne-du-Bois" → "saint etienne du bois").
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            '-' | '\'' | '’' | ' ' | '_' | ',' | '.' | '/' | '(' | ')' => " ",
            _ => {
                out.push(c);
                space = false;
                continue;
            }
        };
        if folded == " " {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push_str(folded);
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Words written in lower case inside a name (not first): articles and prepositions.
const SMALL_WORDS: &[&str] = &[
    "de", "du", "des", "la", "le", "les", "et", "en", "sur", "sous", "aux", "au", "à", "a",
];

/// Acronyms kept in capitals (the web page's list).
const ACRONYMS: &[&str] = &[
    "EHPAD", "EHPA", "MSP", "CH", "CHU", "CHS", "CHI", "CHR", "SSR", "USLD", "SAS", "CCAS", "CIAS",
    "ADMR", "MAS", "FAM", "USSR", "SSIAD", "CMP", "CMPP", "HAD", "CPTS", "GH", "GHT", "CEGIDD",
    "SMUR", "SAMU", "CSAPA", "CATTP", "IME", "ESAT", "SAAD", "SPASAD", "UHR", "PASA", "MDPH",
    "CLIC", "CLS", "EPCI", "ARS", "SA", "SARL", "SCI", "UGECAM", "MGEN", "MSA", "CPAM", "CRF",
    "APF", "APAJH", "ADAPEI", "UDAF", "BP", "CS", "ZA", "ZI", "ZAC", "RN", "RD", "CHNDS", "CHT",
    "GCS", "EPSM", "CMS", "CSI", "PMI", "CMPI", "SSIAD", "ESA", "ESMS", "CRP", "USP", "HDJ",
    "EEAP", "IEM", "SESSAD", "CAMSP",
];

/// Street types written in lower case after the number: « 12 rue de la Gare ».
const STREET_TYPES: &[&str] = &[
    "rue",
    "avenue",
    "boulevard",
    "place",
    "chemin",
    "route",
    "allée",
    "allee",
    "impasse",
    "quai",
    "cours",
    "square",
    "passage",
    "rond-point",
    "esplanade",
    "sentier",
    "voie",
    "lieu-dit",
    "lotissement",
    "faubourg",
    "quartier",
    "cité",
    "cite",
    "parc",
    "bd",
];

/// Words of structure names as French writes them inside a name: accented, and in lower
/// case when they are common nouns or adjectives (« Centre hospitalier »); a capital
/// first letter marks a word that keeps it (« Sèvres »).
const FRENCH_WORDS: &[&str] = &[
    "hospitalier",
    "hospitalière",
    "universitaire",
    "intercommunal",
    "intercommunale",
    "départemental",
    "départementale",
    "régional",
    "régionale",
    "général",
    "générale",
    "spécialisé",
    "spécialisée",
    "médical",
    "médicale",
    "médico",
    "social",
    "sociale",
    "santé",
    "retraite",
    "soins",
    "pluriprofessionnelle",
    "pluridisciplinaire",
    "gériatrique",
    "gérontologique",
    "psychiatrique",
    "rééducation",
    "réadaptation",
    "fonctionnelle",
    "hospitalisation",
    "domicile",
    "hôpital",
    "Résidence",
    "établissement",
    "thérapeutique",
    "médecine",
    "maternité",
    "âgées",
    "personnes",
    "dépendantes",
    "hébergement",
    "accueil",
    "coordination",
    "gérontologie",
    "Sèvres",
    "Éloi",
    "Élisabeth",
    "Étienne",
    "Hélène",
    "Thérèse",
    "Geneviève",
    "Frères",
    "Sœurs",
    "Château",
    "Vallée",
    "Église",
    "Vallées",
    "Chêne",
    "Chênes",
    "Orée",
    "Molière",
    "Forêt",
    "Étang",
    "Écoles",
];

/// How words of names are spelt once out of capitals: the accents and the case the
/// capitals lost, by [`fold`]ed word.
#[derive(Debug, Clone)]
pub struct Lexicon {
    words: HashMap<String, String>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::french()
    }
}

impl Lexicon {
    /// The common words of structure names ([`FRENCH_WORDS`]).
    pub fn french() -> Lexicon {
        let mut l = Lexicon {
            words: HashMap::new(),
        };
        for w in FRENCH_WORDS {
            l.words.insert(fold(w), (*w).to_owned());
        }
        l
    }

    /// Learns the spelling of the words of a name written in mixed case (a commune's,
    /// « Saint-Varent », « Deux-Sèvres »); a name in capitals teaches nothing.
    pub fn learn(&mut self, name: &str) {
        if !has_lower(name) {
            return;
        }
        for word in name.split(|c: char| c.is_whitespace() || c == '-' || c == '\'' || c == '’') {
            // Only a word whose capitals lose something (an accent) is worth keeping.
            if word.chars().count() < 2 || word.is_ascii() {
                continue;
            }
            self.words
                .entry(fold(word))
                .or_insert_with(|| word.to_owned());
        }
    }

    fn get(&self, word: &str) -> Option<&str> {
        self.words.get(&fold(word)).map(String::as_str)
    }
}

fn has_lower(s: &str) -> bool {
    s.chars().any(char::is_lowercase)
}

fn upper_first(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn is_roman(s: &str) -> bool {
    if s.is_empty() || s == "I" || !s.chars().all(|c| matches!(c, 'I' | 'V' | 'X')) {
        return false;
    }
    let t = s.trim_start_matches('X');
    if s.len() - t.len() > 3 {
        return false;
    }
    matches!(
        t,
        "" | "I" | "II" | "III" | "IV" | "V" | "VI" | "VII" | "VIII" | "IX"
    )
}

/// An initialism: « E.H.P.A.D. », « S.A ».
fn is_initialism(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    c.len() >= 2
        && c.chunks(2)
            .all(|p| p[0].is_uppercase() && (p.len() == 1 || p[1] == '.'))
}

/// One word of an all-capitals text (no spaces; may hold hyphens and apostrophes).
fn title_word(word: &str, first: bool, lexicon: &Lexicon) -> String {
    // Hyphenated names: « SAINT-JEAN-DE-LUZ » → « Saint-Jean-de-Luz ».
    if word.contains('-') && word.chars().count() > 1 {
        return word
            .split('-')
            .enumerate()
            .map(|(i, part)| title_word(part, first && i == 0, lexicon))
            .collect::<Vec<_>>()
            .join("-");
    }
    // Elision: « L'ABBESSE » → « l'Abbesse », « D'ARGENTON » → « d'Argenton ».
    let mut chars = word.chars();
    if let (Some(l), Some(q)) = (chars.next(), chars.next()) {
        let rest = chars.as_str();
        if matches!(l, 'L' | 'D' | 'l' | 'd') && matches!(q, '\'' | '’') && !rest.is_empty() {
            let l = if first {
                l.to_ascii_uppercase()
            } else {
                l.to_ascii_lowercase()
            };
            return format!("{l}{q}{}", title_word(rest, true, lexicon));
        }
    }
    let core = word
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '.');
    if core.is_empty() {
        return word.to_owned();
    }
    let (before, after) = {
        let start = word.len()
            - word
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        (&word[..start], &word[start + core.len()..])
    };
    // « St », « Ste », « Sts ».
    if matches!(core, "ST" | "STE" | "STS" | "STES") {
        return format!("{before}{}{after}", upper_first(&core.to_lowercase()));
    }
    // Acronyms, initialisms, Roman numerals, words without a vowel (« CHNDS »).
    let vowel = |c: char| "AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜ".contains(c);
    if ACRONYMS.contains(&core)
        || is_initialism(core)
        || is_roman(core)
        || (core.chars().count() >= 2
            && core.chars().all(char::is_uppercase)
            && !core.chars().any(vowel))
    {
        return word.to_owned();
    }
    let lower = core.to_lowercase();
    if !first && SMALL_WORDS.contains(&lower.as_str()) {
        return format!("{before}{lower}{after}");
    }
    let written = match lexicon.get(core) {
        // A common word stays in lower case inside a name.
        Some(w) if !first && w.starts_with(char::is_lowercase) => w.to_owned(),
        Some(w) => upper_first(w),
        None => upper_first(&lower),
    };
    format!("{before}{written}{after}")
}

/// Title case of an all-capitals text; a new part starts after « ( », « - » or « / ».
fn title_case(text: &str, lexicon: &Lexicon) -> String {
    let mut first = true;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space]);
        rest = &rest[space..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let w = &rest[..end];
        rest = &rest[end..];
        if w.is_empty() {
            continue;
        }
        out.push_str(&title_word(w, first, lexicon));
        first = matches!(w, "-" | "–" | "—" | "(" | "/") || w.ends_with('(');
    }
    out
}

/// A name for display: « EHPAD LES GLYCINES » → « EHPAD les Glycines »; a name that
/// already holds a lower-case letter is kept as it is.
pub fn display_name(s: &str, lexicon: &Lexicon) -> String {
    if has_lower(s) {
        s.to_owned()
    } else {
        title_case(s, lexicon)
    }
}

/// An address for display, part by part (between commas): « 12 RUE DE LA GARE, 79100
/// THOUARS » → « 12 rue de la Gare, 79100 Thouars ». Parts in mixed case are kept.
pub fn display_address(s: &str, lexicon: &Lexicon) -> String {
    s.split(',')
        .map(|part| {
            if has_lower(part) {
                return part.to_owned();
            }
            let mut t = title_case(part, lexicon);
            // « 12 Rue de la Gare » → « 12 rue de la Gare »: the street type after the
            // number.
            let words: Vec<&str> = t.split_whitespace().collect();
            if let Some(j) = words
                .iter()
                .position(|w| w.chars().any(char::is_alphabetic))
            {
                let after_number = j > 0
                    && words[..j]
                        .iter()
                        .any(|w| w.chars().any(|c| c.is_ascii_digit()));
                let more = words[j + 1..]
                    .iter()
                    .any(|w| w.chars().any(char::is_alphabetic));
                if after_number && more && STREET_TYPES.contains(&words[j].to_lowercase().as_str())
                {
                    let lowered = words[j].to_lowercase();
                    if let Some(at) = t.find(words[j]) {
                        t.replace_range(at..at + words[j].len(), &lowered);
                    }
                }
            }
            t
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> String {
        let mut l = Lexicon::french();
        l.learn("Deux-Sèvres");
        display_name(s, &l)
    }

    #[test]
    fn names_in_capitals_are_written_the_french_way() {
        assert_eq!(name("EHPAD LES GLYCINES"), "EHPAD les Glycines");
        assert_eq!(name("SAINT-VARENT"), "Saint-Varent");
        assert_eq!(name("THOUARS"), "Thouars");
        assert_eq!(
            name("CENTRE HOSPITALIER NORD DEUX-SEVRES"),
            "Centre hospitalier Nord Deux-Sèvres"
        );
        assert_eq!(
            name("Centre hospitalier Nord Deux-Sèvres"),
            "Centre hospitalier Nord Deux-Sèvres"
        );
        assert_eq!(name("MSP DU THOUARSAIS"), "MSP du Thouarsais");
        assert_eq!(name("CH DE L'ABBESSE"), "CH de l'Abbesse");
        assert_eq!(name("E.H.P.A.D. ST JEAN"), "E.H.P.A.D. St Jean");
        assert_eq!(name("RESIDENCE LOUIS XIV"), "Résidence Louis XIV");
        assert_eq!(
            name("EHPAD RESIDENCE L'OREE DES BOIS"),
            "EHPAD Résidence l'Orée des Bois"
        );
        assert_eq!(
            name("SITE HOSPITALIER DE THOUARS"),
            "Site hospitalier de Thouars"
        );
        assert_eq!(name("MAISON DE SANTE (CHNDS)"), "Maison de santé (CHNDS)");
        assert_eq!(name(""), "");
    }

    #[test]
    fn addresses_put_the_street_type_in_lower_case() {
        let l = Lexicon::french();
        assert_eq!(
            display_address("12 RUE DE LA GARE, 79100 THOUARS", &l),
            "12 rue de la Gare, 79100 Thouars"
        );
        assert_eq!(
            display_address("2 RUE DOCTEUR ANDRE COLAS, 79103 Thouars Cedex", &l),
            "2 rue Docteur Andre Colas, 79103 Thouars Cedex"
        );
        assert_eq!(display_address("PLACE DU MARCHE", &l), "Place du Marche");
    }

    #[test]
    fn folding_removes_accents_case_and_punctuation() {
        assert_eq!(fold("Saint-Étienne-du-Bois"), "saint etienne du bois");
        assert_eq!(fold("L'Haÿ-les-Roses"), "l hay les roses");
        assert_eq!(fold("  Cœur   de  Loire "), "coeur de loire");
        assert_eq!(fold("THOUARS"), "thouars");
    }
}
