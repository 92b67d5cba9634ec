//! Planners' own structure lists (issue 16, step 5): preview, save, read, change and
//! delete a list through the HTTP service on the mini data set — against SQLite always,
//! PostgreSQL too when `CAREACCESS_TEST_DATABASE_URL` is set — and its use in nearest
//! and coverage (`facilities=official|list|both&list=<id>`).

use std::path::Path;

use careaccess::db::{Db, Role};
use serde_json::{Value, json};

use crate::saved::{backends, call, mini, service, service_writing};

/// The 6-row MSP list of the CLS du Thouarsais (one bad row).
fn thouarsais_csv() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layers/msp_thouarsais.csv"),
    )
    .unwrap()
}

fn columns() -> Value {
    json!({ "name": "nom", "lon": "longitude", "lat": "latitude", "insee": "code_insee",
            "capacity": "nb_professionnels", "address": "adresse", "phone": "telephone" })
}

pub(crate) fn upload(name: &str, visibility: &str) -> Value {
    json!({
        "format": "csv", "content": thouarsais_csv(), "columns": columns(), "kind": "msp",
        "name": name, "description": "MSP connues de la coordinatrice du CLS",
        "visibility": visibility, "scope": "cls:thouarsais",
    })
}

#[tokio::test]
async fn lists_are_previewed_saved_and_changed_by_their_author_only() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
        let bob = db.create_token("Bob (CPTS)", Role::Planner).await.unwrap();
        let admin = db.create_token("ARS", Role::Admin).await.unwrap();
        let (alice, bob, admin) = (
            alice.secret.as_str(),
            bob.secret.as_str(),
            admin.secret.as_str(),
        );
        let s = service(mini().data(), db).await;
        let preview = json!({ "format": "csv", "content": thouarsais_csv(), "columns": columns(), "kind": "msp" });

        // Writes need a known token.
        call(&s, "POST", "/layers/preview", None, Some(preview.clone()))
            .await
            .problem(401, &["Authorization: Bearer"]);
        call(
            &s,
            "POST",
            "/layers/preview",
            Some("ca_nope"),
            Some(preview.clone()),
        )
        .await
        .problem(401, &["unknown"]);

        // The preview: rows read, kept, skipped with line and reason; kept rows
        // normalised; nothing stored.
        let p = call(
            &s,
            "POST",
            "/layers/preview",
            Some(alice),
            Some(preview.clone()),
        )
        .await
        .ok(200);
        let r = &p["report"];
        assert_eq!(r["rows_read"], 6, "{}: {p}", b.name);
        assert_eq!(r["kept"], 5, "{p}");
        assert_eq!(r["skipped"], 1, "{p}");
        assert_eq!(r["skipped_rows"][0]["line"], 7, "{p}");
        assert_eq!(r["skipped_rows"][0]["reason"], "unknown_commune", "{p}");
        assert_eq!(p["stored"], false);
        let rows = p["rows"].as_array().unwrap();
        let thouars = &rows[0];
        assert_eq!(thouars["name"], "MSP Thouars centre-ville");
        assert_eq!(thouars["commune"], "79329");
        assert_eq!(thouars["commune_nom"], "Thouars");
        assert_eq!(thouars["position"], "coordinates");
        assert_eq!(thouars["capacity"], 12.0);
        assert!(
            (thouars["lon"].as_f64().unwrap() + 0.2148).abs() < 1e-9,
            "{thouars}"
        );
        let varent = &rows[1];
        assert_eq!(
            varent["position"], "commune",
            "placed at its commune: {varent}"
        );
        assert_eq!(varent["commune_nom"], "Saint-Varent");
        assert!(
            rows[2]["phone"].is_null() && rows[2]["capacity"] == 5.0,
            "{}",
            rows[2]
        );
        call(&s, "GET", "/layers", Some(alice), None).await.ok(200)["layers"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
            .expect("a preview stores nothing");

        // Bad files and bodies: 422 (400 for bad JSON) naming the problem; nothing stored.
        let mut missing = preview.clone();
        missing["columns"]["lat"] = json!("lat_wgs84");
        call(&s, "POST", "/layers/preview", Some(alice), Some(missing))
            .await
            .problem(422, &["columns.lat", "lat_wgs84", "nom, adresse"]);
        let geo = json!({ "format": "geojson", "content": "{\"type\":\"Point\"}", "columns": {"name": "nom"}, "kind": "msp" });
        call(&s, "POST", "/layers/preview", Some(alice), Some(geo))
            .await
            .problem(422, &["FeatureCollection"]);
        let mut no_kind = preview.clone();
        no_kind.as_object_mut().unwrap().remove("kind");
        call(&s, "POST", "/layers/preview", Some(alice), Some(no_kind))
            .await
            .problem(422, &["kind"]);
        let mut odd_kind = preview.clone();
        odd_kind["kind"] = json!("pharmacie");
        call(&s, "POST", "/layers/preview", Some(alice), Some(odd_kind))
            .await
            .problem(422, &["pharmacie"]);
        let mut odd = preview.clone();
        odd["colour"] = json!("red");
        call(&s, "POST", "/layers/preview", Some(alice), Some(odd))
            .await
            .problem(400, &["colour"]);
        let mut no_scope = upload("Sans périmètre", "private");
        no_scope.as_object_mut().unwrap().remove("scope");
        call(&s, "POST", "/layers", Some(alice), Some(no_scope))
            .await
            .problem(422, &["`scope` is required"]);
        let mut bad_scope = upload("Mauvais périmètre", "private");
        bad_scope["scope"] = json!("cls:nowhere");
        call(&s, "POST", "/layers", Some(alice), Some(bad_scope))
            .await
            .problem(422, &["scope", "nowhere"]);
        let mut all_bad = upload("Rien", "private");
        all_bad["content"] = json!("nom;code_insee\nX;79999\n");
        all_bad["columns"] = json!({"name": "nom", "insee": "code_insee"});
        call(&s, "POST", "/layers", Some(alice), Some(all_bad))
            .await
            .problem(422, &["no row", "1 read"]);
        // Limits: the file's size and its rows.
        let mut big = preview.clone();
        big["content"] = json!(format!("nom;code_insee\n{}", "X;79329\n".repeat(700_000)));
        call(&s, "POST", "/layers/preview", Some(alice), Some(big))
            .await
            .problem(413, &["content", "bytes"]);
        let mut long = preview.clone();
        let many: String = (0..20_001).map(|i| format!("MSP {i};79329\n")).collect();
        long["content"] = json!(format!("nom;code_insee\n{many}"));
        long["columns"] = json!({"name": "nom", "insee": "code_insee"});
        call(&s, "POST", "/layers/preview", Some(alice), Some(long))
            .await
            .problem(413, &["20001 rows", "20000"]);
        assert!(
            call(&s, "GET", "/layers", Some(alice), None).await.ok(200)["layers"]
                .as_array()
                .unwrap()
                .is_empty(),
            "nothing stored on error"
        );

        // Saved, private: 201 with its id, url and report.
        let made = call(
            &s,
            "POST",
            "/layers",
            Some(alice),
            Some(upload("MSP du Thouarsais", "private")),
        )
        .await
        .ok(201);
        let id = made["id"].as_str().unwrap().to_owned();
        assert_eq!(made["report"]["kept"], 5, "{made}");
        assert_eq!(made["kinds"]["msp"], 5, "{made}");
        assert_eq!(made["author"], "Alice (CLS)");
        assert!(
            made["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/layers/{id}"))
        );
        assert!(
            made["legend"]
                .as_str()
                .unwrap()
                .starts_with("liste fournie par Alice (CLS), "),
            "{made}"
        );
        // Private: only its author and admins see it.
        call(&s, "GET", &format!("/layers/{id}"), None, None)
            .await
            .problem(404, &[&id]);
        call(&s, "GET", &format!("/layers/{id}"), Some(bob), None)
            .await
            .problem(404, &[&id]);
        call(&s, "GET", &format!("/layers/{id}/items"), Some(bob), None)
            .await
            .problem(404, &[&id]);
        let meta = call(&s, "GET", &format!("/layers/{id}"), Some(alice), None)
            .await
            .ok(200);
        assert_eq!(meta["scope"], "cls:thouarsais");
        assert_eq!(meta["items"], 5);
        assert_eq!(
            meta["report"]["skipped_rows"][0]["reason"],
            "unknown_commune"
        );
        call(&s, "GET", &format!("/layers/{id}"), Some(admin), None)
            .await
            .ok(200);
        let listed = |v: Value| {
            v["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(listed(call(&s, "GET", "/layers", None, None).await.ok(200)).is_empty());
        assert!(listed(call(&s, "GET", "/layers", Some(bob), None).await.ok(200)).is_empty());
        assert_eq!(
            listed(call(&s, "GET", "/layers", Some(alice), None).await.ok(200)),
            vec![id.clone()]
        );
        call(&s, "GET", "/layers", Some("ca_nope"), None)
            .await
            .problem(401, &["unknown"]);

        // Items: GeoJSON, paged.
        let page = call(
            &s,
            "GET",
            &format!("/layers/{id}/items?limit=2"),
            Some(alice),
            None,
        )
        .await;
        assert_eq!(page.media, "application/geo+json");
        let page = page.ok(200);
        assert_eq!(page["type"], "FeatureCollection");
        assert_eq!(page["numberMatched"], 5);
        assert_eq!(page["numberReturned"], 2);
        assert_eq!(page["features"][0]["geometry"]["type"], "Point");
        assert_eq!(
            page["features"][1]["properties"]["name"],
            "MSP de Saint-Varent"
        );
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .unwrap()["href"]
            .as_str()
            .unwrap();
        assert!(next.ends_with("offset=2"), "{next}");
        call(
            &s,
            "GET",
            &format!("/layers/{id}/items?limit=0"),
            Some(alice),
            None,
        )
        .await
        .problem(400, &["limit"]);

        // Changes: only the author (or an admin); then public for everyone.
        call(
            &s,
            "PATCH",
            &format!("/layers/{id}"),
            Some(bob),
            Some(json!({"visibility": "public"})),
        )
        .await
        .problem(403, &["another planner"]);
        call(
            &s,
            "PATCH",
            &format!("/layers/{id}"),
            Some(alice),
            Some(json!({"visibility": "everyone"})),
        )
        .await
        .problem(422, &["visibility"]);
        call(
            &s,
            "PATCH",
            &format!("/layers/{id}"),
            Some(alice),
            Some(json!({"content": "x"})),
        )
        .await
        .problem(422, &["`content` cannot be changed"]);
        let changed = call(
            &s,
            "PATCH",
            &format!("/layers/{id}"),
            Some(alice),
            Some(json!({"visibility": "public", "name": "MSP du Thouarsais (2026)"})),
        )
        .await
        .ok(200);
        assert_eq!(changed["visibility"], "public");
        assert_eq!(changed["name"], "MSP du Thouarsais (2026)");
        assert_eq!(
            listed(call(&s, "GET", "/layers", None, None).await.ok(200)),
            vec![id.clone()]
        );
        call(&s, "GET", &format!("/layers/{id}/items"), None, None)
            .await
            .ok(200);
        call(&s, "DELETE", &format!("/layers/{id}"), Some(bob), None)
            .await
            .problem(403, &["another planner"]);
        call(&s, "DELETE", &format!("/layers/{id}"), Some(alice), None)
            .await
            .ok(204);
        call(&s, "GET", &format!("/layers/{id}/items"), None, None)
            .await
            .problem(404, &[&id]);
        call(&s, "DELETE", &format!("/layers/{id}"), Some(alice), None)
            .await
            .problem(404, &[&id]);

        // Every write is in the audit.
        let audit = call(&s, "GET", "/audit", Some(admin), None).await.ok(200);
        let actions: Vec<String> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["object_type"] == "layer")
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            actions,
            ["delete", "update", "create"],
            "{}: {audit}",
            b.name
        );
    }
}

#[tokio::test]
async fn lists_per_token_are_counted() {
    let b = backends().await.remove(0);
    let db = Db::open(&b.target).await.unwrap();
    let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
    // More writes than a minute's default limit: without it.
    let s = service_writing(mini().data(), db, 0).await;
    let small = json!({ "format": "csv", "content": "nom;code_insee\nMSP;79329\n",
        "columns": {"name": "nom", "insee": "code_insee"}, "kind": "msp",
        "name": "Une", "visibility": "public", "scope": "dep:79" });
    // At most MAX_LISTS_PER_TOKEN lists per token: the next is a 409.
    let max = careaccess::api::layers::MAX_LISTS_PER_TOKEN;
    for _ in 0..max {
        call(
            &s,
            "POST",
            "/layers",
            Some(&alice.secret),
            Some(small.clone()),
        )
        .await
        .ok(201);
    }
    call(
        &s,
        "POST",
        "/layers",
        Some(&alice.secret),
        Some(small.clone()),
    )
    .await
    .problem(409, &["already has 50 lists"]);
}

/// The underserved or nearest answer of one commune, by code.
fn commune<'a>(coverage: &'a Value, code: &str) -> Option<&'a Value> {
    coverage["underserved"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
}

#[tokio::test]
async fn a_list_is_used_at_once_in_nearest_and_coverage_and_speaks_for_its_scope_only() {
    let b = backends().await.remove(0);
    let db = Db::open(&b.target).await.unwrap();
    let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
    let bob = db.create_token("Bob (CPTS)", Role::Planner).await.unwrap();
    let s = service(mini().data(), db).await;
    let made = call(
        &s,
        "POST",
        "/layers",
        Some(&alice.secret),
        Some(upload("MSP du Thouarsais", "public")),
    )
    .await
    .ok(201);
    let id = made["id"].as_str().unwrap().to_owned();

    // Coverage of the CLS with the list alone: every commune counted (the list is
    // complete there), the nearest of Saint-Varent is the list's MSP there.
    let list = call(
        &s,
        "GET",
        &format!(
            "/territories/cls/thouarsais/coverage?kind=msp&within_km=0.5&facilities=list&list={id}"
        ),
        None,
        None,
    )
    .await
    .ok(200);
    assert_eq!(list["facilities"]["used"], "list", "{list}");
    assert_eq!(list["facilities"]["list"]["id"], id.as_str());
    assert_eq!(list["facilities"]["list"]["author"], "Alice (CLS)");
    assert_eq!(list["facilities"]["list"]["scope"], "cls:thouarsais");
    assert_eq!(list["communes_out_of_scope"], 0, "{list}");
    assert_eq!(list["communes_outside_list_scope"], 0);
    assert!(list["notes"].is_null(), "{list}");
    let official = call(
        &s,
        "GET",
        "/territories/cls/thouarsais/coverage?kind=msp&within_km=0.5",
        None,
        None,
    )
    .await
    .ok(200);
    assert!(
        official["facilities"].is_null(),
        "official answers unchanged: {official}"
    );
    // Airvault (in the CLS, no MSP in the list): its nearest is one of the list's.
    let airvault = commune(&list, "79005").expect("Airvault is beyond 0.5 km");
    assert!(
        airvault["nearest_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("liste:{id}:")),
        "{airvault}"
    );
    // Saint-Varent's MSP is at its reference point: within 0.5 km with the list.
    assert!(commune(&list, "79299").is_none(), "{list}");

    // Both: the nearer of official and listed.
    let both = call(
        &s,
        "GET",
        &format!("/territories/cls/thouarsais/coverage?kind=msp&facilities=both&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    assert_eq!(both["facilities"]["used"], "both");
    let within = |v: &Value| v["bands"][0]["population_within"].as_u64().unwrap();
    assert!(
        within(&both) >= within(&list) && within(&both) >= within(&official),
        "{both}"
    );

    // Outside the list's scope (Bressuire, in the Deux-Sèvres but not the CLS): with
    // `list` it is "non couvert", never "far"; with `both` a note says so.
    let dep = call(
        &s,
        "GET",
        &format!("/territories/departement/79/coverage?kind=msp&facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    assert!(dep["communes_out_of_scope"].as_u64().unwrap() >= 1, "{dep}");
    assert!(
        commune(&dep, "79049").is_none(),
        "Bressuire is not counted as far: {dep}"
    );
    let note = dep["notes"][0].as_str().unwrap();
    assert!(
        note.contains("non couvert par la liste") && note.contains("79049"),
        "{note}"
    );
    let dep_both = call(
        &s,
        "GET",
        &format!("/territories/departement/79/coverage?kind=msp&facilities=both&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    assert!(
        dep_both["notes"][0]
            .as_str()
            .unwrap()
            .contains("hors du périmètre"),
        "{dep_both}"
    );

    // Nearest: from Saint-Varent the list's MSP there comes first; from Bressuire the
    // answer says the list does not cover it.
    let near = call(
        &s,
        "GET",
        &format!("/nearest?commune=79299&kind=msp&k=3&facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    let first = &near["results"][0]["structures"][0];
    assert_eq!(first["nom"], "MSP de Saint-Varent", "{near}");
    assert_eq!(first["liste"], true);
    assert_eq!(first["position"], "commune");
    assert!(first["distance_m"].as_f64().unwrap() < 1.0);
    assert_eq!(near["facilities"]["used"], "list");
    let far = call(
        &s,
        "GET",
        &format!("/nearest?commune=79049&kind=msp&facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    assert_eq!(far["results"][0]["hors_perimetre_liste"], true, "{far}");
    assert!(
        far["results"][0]["caveat"]
            .as_str()
            .unwrap()
            .contains("non couvert par la liste")
    );
    let mixed = call(
        &s,
        "GET",
        &format!("/nearest?lon=-0.214&lat=46.977&kind=msp&k=4&facilities=both&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    let from: Vec<bool> = mixed["results"][0]["structures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["liste"].as_bool().unwrap())
        .collect();
    assert!(from.contains(&true) && from.contains(&false), "{mixed}");

    // Bad combinations name the parameter.
    call(
        &s,
        "GET",
        "/nearest?commune=79299&facilities=list",
        None,
        None,
    )
    .await
    .problem(400, &["facilities", "list"]);
    call(
        &s,
        "GET",
        &format!("/nearest?commune=79299&list={id}"),
        None,
        None,
    )
    .await
    .problem(400, &["list", "official"]);
    call(
        &s,
        "GET",
        "/nearest?commune=79299&facilities=mine&list=x",
        None,
        None,
    )
    .await
    .problem(400, &["facilities", "mine"]);
    call(
        &s,
        "GET",
        "/nearest?commune=79299&facilities=list&list=nope",
        None,
        None,
    )
    .await
    .problem(400, &["list", "nope"]);
    // A private list is for its author only.
    let private = call(
        &s,
        "POST",
        "/layers",
        Some(&alice.secret),
        Some(upload("Privée", "private")),
    )
    .await
    .ok(201);
    let pid = private["id"].as_str().unwrap();
    let uri = format!("/territories/cls/thouarsais/coverage?kind=msp&facilities=list&list={pid}");
    call(&s, "GET", &uri, Some(&bob.secret), None)
        .await
        .problem(400, &["list", pid]);
    call(&s, "GET", &uri, Some(&alice.secret), None)
        .await
        .ok(200);

    // A kind the build lacks (outreach consultations) is served from the list.
    let mut consult = upload("Consultations avancées", "public");
    consult["kind"] = json!("consultation");
    let cid = call(&s, "POST", "/layers", Some(&alice.secret), Some(consult))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = call(
        &s,
        "GET",
        &format!(
            "/territories/cls/thouarsais/coverage?kind=consultation&facilities=list&list={cid}"
        ),
        None,
        None,
    )
    .await
    .ok(200);
    assert_eq!(c["kind"], "consultation");
    assert!(
        c["bands"][0]["population_within"].as_u64().unwrap() > 0,
        "{c}"
    );
}

/// A planner's GIS export in Lambert-93 (EPSG:2154): x/y metres with French decimals,
/// one row with its columns swapped, one in degrees by mistake; kept in WGS84.
#[tokio::test]
async fn a_lambert93_list_is_read_in_metres_and_kept_in_wgs84() {
    use careaccess::crs::Crs;
    let b = backends().await.remove(0);
    let db = Db::open(&b.target).await.unwrap();
    let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
    let alice = Some(alice.secret.as_str());
    let s = service(mini().data(), db).await;
    let msp = [
        ("MSP Thouars centre-ville", -0.2148, 46.9755, "79329"),
        (
            "Maison de santé d'Argenton-l'Église",
            -0.2740,
            47.0530,
            "79014",
        ),
        ("MSP de Saint-Varent", -0.2300, 46.8900, "79299"),
    ];
    let fr = |v: f64| format!("{v:.2}").replace('.', ",");
    let mut csv = "nom;x_l93;y_l93\n".to_owned();
    for (i, (name, lon, lat, _)) in msp.iter().enumerate() {
        let (x, y) = Crs::Lambert93.from_wgs84(*lon, *lat).unwrap();
        let (x, y) = if i == 2 { (y, x) } else { (x, y) };
        csv.push_str(&format!("{name};{};{}\n", fr(x), fr(y)));
    }
    csv.push_str("MSP en degrés;-0,2148;46,9755\n");
    let body = |crs: Value| {
        json!({ "format": "csv", "content": csv, "crs": crs, "kind": "msp",
                "columns": {"name": "nom", "lon": "x_l93", "lat": "y_l93"} })
    };

    for crs in [json!("EPSG:2154"), json!(2154)] {
        let p = call(&s, "POST", "/layers/preview", alice, Some(body(crs)))
            .await
            .ok(200);
        let r = &p["report"];
        assert_eq!(
            r["crs"], "EPSG:2154 RGF93 v1 / Lambert-93 (x/y in metres)",
            "{p}"
        );
        assert_eq!(
            (r["rows_read"].as_u64(), r["kept"].as_u64()),
            (Some(4), Some(3)),
            "{p}"
        );
        let skip = &r["skipped_rows"][0];
        assert_eq!(
            (&skip["line"], &skip["reason"]),
            (&json!(5), &json!("outside_crs_area"))
        );
        let detail = skip["detail"].as_str().unwrap();
        assert!(
            detail.contains("(-0.2148, 46.9755)") && detail.contains("x 50000..1300000"),
            "{detail}"
        );
        assert_eq!(
            r["notes"],
            json!(["1 row had X and Y swapped and was corrected (lines 4)"])
        );
        for (row, (name, lon, lat, commune)) in p["rows"].as_array().unwrap().iter().zip(msp) {
            assert_eq!(row["name"], name);
            assert_eq!(row["commune"], commune, "{row}");
            let (x, y) = (row["lon"].as_f64().unwrap(), row["lat"].as_f64().unwrap());
            assert!(
                (x - lon).abs() < 1e-6 && (y - lat).abs() < 1e-6,
                "{name}: ({x}, {y})"
            );
        }
    }

    // Saved, the list's items are WGS84 points.
    let mut save = body(json!("EPSG:2154"));
    save["name"] = json!("MSP en Lambert-93");
    save["scope"] = json!("cls:thouarsais");
    let made = call(&s, "POST", "/layers", alice, Some(save)).await.ok(201);
    let id = made["id"].as_str().unwrap();
    let items = call(&s, "GET", &format!("/layers/{id}/items"), alice, None)
        .await
        .ok(200);
    let at = items["features"][0]["geometry"]["coordinates"].clone();
    assert!(
        (at[0].as_f64().unwrap() + 0.2148).abs() < 1e-6
            && (at[1].as_f64().unwrap() - 46.9755).abs() < 1e-6,
        "{items}"
    );

    // Without `crs` the metres are not degrees: said, with the CRS they look like;
    // only the row in degrees is kept.
    let mut wgs84 = body(Value::Null);
    wgs84.as_object_mut().unwrap().remove("crs");
    let p = call(&s, "POST", "/layers/preview", alice, Some(wgs84))
        .await
        .ok(200);
    assert_eq!(
        p["report"]["skipped_by_reason"]["bad_coordinates"], 3,
        "{p}"
    );
    assert_eq!(p["rows"][0]["name"], "MSP en degrés");
    let detail = p["report"]["skipped_rows"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("\"EPSG:2154\""), "{detail}");
    // A CRS careaccess does not convert is refused by name, with the ones it does.
    call(
        &s,
        "POST",
        "/layers/preview",
        alice,
        Some(body(json!("EPSG:3857"))),
    )
    .await
    .problem(
        422,
        &["`crs`", "EPSG:3857", "EPSG:2154 (RGF93 v1 / Lambert-93)"],
    );

    // A GeoJSON saying EPSG:2154 is read in it; a body saying otherwise is refused.
    let (x, y) = Crs::Lambert93.from_wgs84(-0.2148, 46.9755).unwrap();
    let geojson = json!({ "type": "FeatureCollection",
        "crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:EPSG::2154" } },
        "features": [{ "type": "Feature", "properties": { "nom": "MSP Thouars" },
                       "geometry": { "type": "Point", "coordinates": [x, y] } }] })
    .to_string();
    let upload = json!({ "format": "geojson", "content": geojson, "kind": "msp",
                         "columns": { "name": "nom" } });
    let p = call(&s, "POST", "/layers/preview", alice, Some(upload.clone()))
        .await
        .ok(200);
    let row = &p["rows"][0];
    assert!(
        (row["lon"].as_f64().unwrap() + 0.2148).abs() < 1e-6
            && (row["lat"].as_f64().unwrap() - 46.9755).abs() < 1e-6,
        "{p}"
    );
    let mut disagree = upload;
    disagree["crs"] = json!("EPSG:4326");
    call(&s, "POST", "/layers/preview", alice, Some(disagree))
        .await
        .problem(422, &["EPSG:2154", "EPSG:4326"]);
}
