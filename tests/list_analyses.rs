//! A planner's list in scenarios, territory summaries and 2SFCA profiles (issue 16):
//! `facilities` and `list` of `POST /scenarios`, `GET /territories/{type}/{code}` and
//! `GET /communes/{code}/explain`, and a saved scenario that uses a list.

use careaccess::db::{Db, Role};
use serde_json::{Value, json};

use crate::layers::upload;
use crate::saved::{backends, call, mini, service};

/// A scenario body of kind msp in the CLS du Thouarsais with these structures.
fn scenario(facilities: &str, list: &str, changes: Value) -> Value {
    json!({
        "kind": "msp", "within_km": 5, "territory": "cls:thouarsais",
        "facilities": facilities, "list": list, "changes": changes,
    })
}

/// An MSP planned at Airvault, where the list has none.
fn airvault() -> Value {
    json!([{ "op": "add", "lon": -0.138, "lat": 46.825, "name": "MSP d'Airvault (projet)" }])
}

fn changed<'a>(r: &'a Value, code: &str) -> Option<&'a Value> {
    r["nearest_changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
}

#[tokio::test]
async fn a_list_is_used_in_scenarios_summaries_and_accessibility() {
    let b = backends().await.remove(0);
    let db = Db::open(&b.target).await.unwrap();
    let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
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
    let prefix = format!("liste:{id}:");

    // From the list alone: Airvault's nearest was one of the list's, now the new site.
    let r = call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario("list", &id, airvault())),
    )
    .await
    .ok(200);
    assert_eq!(r["facilities"]["used"], "list", "{r}");
    assert_eq!(r["facilities"]["list"]["id"], id.as_str());
    let a = changed(&r, "79005").expect("Airvault's nearest changes");
    assert!(
        a["before"]["id"].as_str().unwrap().starts_with(&prefix),
        "{a}"
    );
    assert_eq!(a["after"]["id"], "scenario:1");
    assert!(r["inside"]["population_newly_within"].as_u64().unwrap() > 0);
    // The msp profile follows the list: the added site has its accessibility terms.
    let acc = &r["accessibility"];
    assert_eq!(acc["profile"], "msp", "{r}");
    assert_eq!(acc["sites"][0]["id"], "scenario:1");

    // Closing the list's MSP of Saint-Varent (by its list id).
    let near = call(
        &s,
        "GET",
        &format!("/nearest?commune=79299&kind=msp&facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    let varent = near["results"][0]["structures"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario(
            "list",
            &id,
            json!([{ "op": "remove", "id": varent }]),
        )),
    )
    .await
    .ok(200);
    let v = changed(&close, "79299").expect("Saint-Varent loses its MSP");
    assert_eq!(v["before"]["id"], varent.as_str(), "{close}");
    assert!(close["population_no_longer_within"].as_u64().unwrap() > 0);
    assert_eq!(close["accessibility"]["sites"][0]["op"], "remove");

    // With the list alone the build's structures cannot be named.
    let official = call(&s, "GET", "/nearest?commune=79299&kind=msp", None, None)
        .await
        .ok(200);
    let oid = official["results"][0]["structures"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario(
            "list",
            &id,
            json!([{ "op": "remove", "id": oid }]),
        )),
    )
    .await
    .problem(400, &["no structure", &oid]);
    // Both: official and listed structures alike.
    call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario(
            "both",
            &id,
            json!([{ "op": "remove", "id": oid }, { "op": "remove", "id": varent }]),
        )),
    )
    .await
    .ok(200);

    // Outside the list's territory an added site counts for nothing: "non couvert".
    let bressuire = call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario(
            "list",
            &id,
            json!([{ "op": "add", "lon": -0.487, "lat": 46.840 }]),
        )),
    )
    .await
    .ok(200);
    assert!(
        bressuire["population_out_of_scope"].as_u64().unwrap() > 0,
        "{bressuire}"
    );
    assert!(changed(&bressuire, "79049").is_none());
    assert!(
        bressuire["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("non couvert par la liste")),
        "{bressuire}"
    );
    // A list with the matrix model, and a list that is not there, are refused.
    let mut matrix = scenario("list", &id, airvault());
    matrix["model"] = json!("matrix");
    call(&s, "POST", "/scenarios", None, Some(matrix))
        .await
        .problem(400, &["model"]);
    call(
        &s,
        "POST",
        "/scenarios",
        None,
        Some(scenario("list", "nope", airvault())),
    )
    .await
    .problem(400, &["list", "nope"]);

    // Siting from the list: its structures count as serving, outside its territory
    // nothing is counted.
    let siting = |facilities: &str, territory: &str| {
        format!(
            "/siting?territory={territory}&kind=msp&k=2&within_km=5&facilities={facilities}&list={id}"
        )
    };
    let cls = call(&s, "GET", &siting("list", "cls:thouarsais"), None, None)
        .await
        .ok(200);
    assert_eq!(cls["facilities"]["used"], "list", "{cls}");
    assert_eq!(cls["communes_out_of_scope"], 0);
    assert!(cls["share_within_before"].as_f64().unwrap() > 0.0, "{cls}");
    let dep = call(&s, "GET", &siting("list", "dep:79"), None, None)
        .await
        .ok(200);
    assert!(dep["communes_out_of_scope"].as_u64().unwrap() > 0, "{dep}");
    assert!(
        dep["picks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["code"] != "79049"),
        "a site outside the list's territory is never proposed: {dep}"
    );
    assert!(
        dep["notes"][0]
            .as_str()
            .unwrap()
            .contains("non couvert par la liste")
    );

    // The territory summary: msp and its profile with the list, the rest the build's.
    let summary = call(
        &s,
        "GET",
        &format!("/territories/cls/thouarsais?facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    let msp = &summary["kinds"]["msp"];
    assert_eq!(msp["facilities"], "list", "{summary}");
    assert_eq!(msp["structures"], 5);
    assert_eq!(msp["liste_partielle"], false);
    assert_eq!(summary["kinds"]["ehpad"]["facilities"], "official");
    assert_eq!(summary["accessibility"]["msp"]["facilities"], "list");
    assert!(summary["accessibility"]["ehpad"]["facilities"].is_null());
    assert_eq!(summary["facilities"]["used"], "list");
    let plain = call(&s, "GET", "/territories/cls/thouarsais", None, None)
        .await
        .ok(200);
    assert_eq!(plain["kinds"]["msp"]["facilities"], "official");
    assert!(plain["facilities"].is_null());
    assert_ne!(
        plain["accessibility"]["msp"], summary["accessibility"]["msp"],
        "the list changes the msp accessibility"
    );

    // Explain: the list's sites are terms of the sum.
    let explain = call(
        &s,
        "GET",
        &format!("/communes/79299/explain?profile=msp&facilities=both&list={id}"),
        None,
        None,
    )
    .await
    .ok(200);
    assert_eq!(explain["facilities"]["used"], "both");
    let ids: Vec<&str> = explain["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["site_id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().any(|i| i.starts_with(&prefix)), "{explain}");
    call(
        &s,
        "GET",
        &format!("/communes/79299/explain?profile=mg&facilities=list&list={id}"),
        None,
        None,
    )
    .await
    .problem(400, &["list", "commune indicator"]);

    // Saved with its list: the same answer while the list is unchanged; once the list
    // changes, the saved result is kept and the recomputed one comes with a note.
    let mut body = scenario("list", &id, airvault());
    body["name"] = json!("Airvault, liste de la coordinatrice");
    let saved = call(
        &s,
        "POST",
        "/saved-scenarios",
        Some(&alice.secret),
        Some(body),
    )
    .await
    .ok(201);
    let url = format!("/saved-scenarios/{}", saved["id"].as_str().unwrap());
    let got = call(&s, "GET", &url, None, None).await.ok(200);
    assert!(got["current"].is_null(), "{got}");
    assert_eq!(
        got["saved"]["result"]["facilities"]["list"]["id"],
        id.as_str()
    );
    // Timestamps have a resolution of a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    call(
        &s,
        "PATCH",
        &format!("/layers/{id}"),
        Some(&alice.secret),
        Some(json!({ "name": "MSP du Thouarsais (2)" })),
    )
    .await
    .ok(200);
    let got = call(&s, "GET", &url, None, None).await.ok(200);
    let note = got["current"]["note"].as_str().unwrap_or_default();
    assert!(note.contains("a été modifiée"), "{got}");
    assert!(got["current"]["result"]["population_newly_within"].is_u64());
}
