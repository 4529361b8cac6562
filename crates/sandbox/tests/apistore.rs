//! apistore (seed 003) over HTTP: the seed's example query in both signing modes, every
//! code of the seed's table, the clock, the answer shapes, lower case, and call counts.

mod common;

use common::Sandbox;
use common::platform::{Form, sorted_sign, unix_now, with_sign};
use sandbox::vendors::platform::codes::message;
use serde_json::{Value, json};

const PATH: &str = "/pyi/65/173";
const SECRET: &str = "sandbox-apistore-secret";
const HASH_SECRET: &str = "sandbox-apistore-hash-secret";
/// Seed 003's POST header, charset included.
const FORM_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";

/// The seed's example query (lines 36-45), without `appid` and `time`.
const SEED_QUERY: [(&str, &str); 5] = [
    ("car_no", "粤AJ44E6"),
    ("car_type", "02"),
    ("engine_number", "AD50EG081600062"),
    ("format", "json"),
    ("frame_number", "LNBSCC3H8GF308384"),
];

async fn start(tweak: impl FnOnce(&mut sandbox::SandboxConfig)) -> Sandbox {
    let mut cfg = sandbox::SandboxConfig::default();
    tweak(&mut cfg);
    common::start_with(cfg).await
}

fn encode(form: &Form) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

/// `params` with `appid`, the host's `time` and an MD5-mode `sign`.
fn md5_form(appid: &str, params: &[(&str, &str)]) -> Form {
    let time = unix_now().to_string();
    let mut all = vec![("appid", appid), ("time", time.as_str())];
    all.extend_from_slice(params);
    with_sign(&all, &sorted_sign(&all, SECRET))
}

/// apistore's side of the sandbox.
trait Apistore {
    async fn post_to(&self, path: &str, form: &Form) -> reqwest::Response;
    async fn post(&self, form: &Form) -> Value;
    async fn get(&self, form: &Form) -> Value;
    /// An MD5-signed query from `appid`.
    async fn ask(&self, appid: &str, params: &[(&str, &str)]) -> Value;
}

impl Apistore for Sandbox {
    async fn post_to(&self, path: &str, form: &Form) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", FORM_TYPE)
            .body(encode(form))
            .send()
            .await
            .expect("answers")
    }

    async fn post(&self, form: &Form) -> Value {
        json_of(self.post_to(PATH, form).await).await
    }

    async fn get(&self, form: &Form) -> Value {
        let url = self.url(&format!("{PATH}?{}", encode(form)));
        json_of(self.http.get(url).send().await.expect("answers")).await
    }

    async fn ask(&self, appid: &str, params: &[(&str, &str)]) -> Value {
        self.post(&md5_form(appid, params)).await
    }
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON")
}

fn code(v: &Value) -> i64 {
    v["codeid"].as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn the_seeds_example_query_answers_by_post_get_and_the_alias() {
    let s = start(|_| {}).await;
    let form = md5_form("1", &SEED_QUERY);
    let res = s.post_to(PATH, &form).await;
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
    let v: Value = res.json().await.expect("JSON");
    assert_eq!(
        (code(&v), &v["message"]),
        (10000, &json!("返回成功")),
        "{v}"
    );
    assert_eq!(v["carNo"], "粤AJ44E6");
    assert_eq!(v["description"], "违章查询成功");
    assert_eq!(
        (&v["vioNum"], &v["fineTotal"], &v["integralTotal"]),
        (&json!(2), &json!(300), &json!(5))
    );
    let records = v["data"].as_array().expect("records in data");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["vioCode"], "1208");
    let time: u64 = v["time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("time");
    assert!(
        time.abs_diff(unix_now()) <= 5,
        "the platform's clock: {time}"
    );

    assert_eq!(code(&s.get(&form).await), 10000, "GET");
    let alias = json_of(s.post_to(&format!("/apistore{PATH}"), &form).await).await;
    assert_eq!(code(&alias), 10000, "alias");
    // The same query without `time`: 可以不传递这个参数.
    let mut untimed: Vec<(&str, &str)> = vec![("appid", "1")];
    untimed.extend_from_slice(&SEED_QUERY);
    let v = s
        .post(&with_sign(&untimed, &sorted_sign(&untimed, SECRET)))
        .await;
    assert_eq!(code(&v), 10000, "{v}");
}

#[tokio::test]
async fn hash_mode_signs_with_the_secret_itself() {
    let s = start(|_| {}).await;
    let mut params: Vec<(&str, &str)> = vec![("appid", "2")];
    params.extend_from_slice(&SEED_QUERY);
    let v = s.post(&with_sign(&params, HASH_SECRET)).await;
    assert_eq!(code(&v), 10000, "{v}");
    // An MD5 signature is not the secret; the secret is not an MD5 signature.
    let v = s
        .post(&with_sign(&params, &sorted_sign(&params, HASH_SECRET)))
        .await;
    assert_eq!(code(&v), 10003, "{v}");
    params[0].1 = "1";
    let v = s.post(&with_sign(&params, SECRET)).await;
    assert_eq!(code(&v), 10003, "{v}");
}

/// Seed 003's 状态码说明 in the platform's own table (checked verbatim against the
/// seed by the platform's unit tests).
fn seed_text(code: i64) -> &'static str {
    message(code).unwrap_or_else(|| panic!("{code} is not in seed 003's table"))
}

#[tokio::test]
async fn every_code_of_the_seeds_table_is_reachable() {
    let s = start(|_| {}).await;
    let time = unix_now();
    let now = time.to_string();
    let hour_ago = (time - 3600).to_string();
    let signed = |params: &[(&str, &str)]| with_sign(params, &sorted_sign(params, SECRET));
    let seed_with = |appid: &'static str| {
        let mut p = vec![("appid", appid)];
        p.extend_from_slice(&SEED_QUERY);
        p
    };
    let vehicle = |car_no: &'static str| {
        vec![
            ("appid", "1"),
            ("car_no", car_no),
            ("car_type", "02"),
            ("frame_number", "123456"),
        ]
    };
    let mut cases: Vec<(i64, &str, Form)> = vec![
        (10000, "the seed's example", signed(&seed_with("1"))),
        (10001, "no appid", signed(&SEED_QUERY)),
        (
            10002,
            "no sign",
            seed_with("1")
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
        (
            10003,
            "wrong sign",
            with_sign(&seed_with("1"), "0".repeat(32).as_str()),
        ),
        (10005, "unknown appid", signed(&seed_with("9999"))),
        (
            10015,
            "no car_type",
            signed(&[("appid", "1"), ("car_no", "粤AJ44E6")]),
        ),
        (
            10015,
            "no car_no",
            signed(&[("appid", "1"), ("car_type", "02")]),
        ),
        (
            10014,
            "a vehicle the platform fails on",
            signed(&vehicle("粤A00014")),
        ),
        (
            10021,
            "a vehicle the platform fails on",
            signed(&vehicle("粤A00021")),
        ),
        (
            10023,
            "a vehicle answered later",
            signed(&[
                ("appid", "1"),
                ("car_no", "苏E9T8R7"),
                ("car_type", "02"),
                ("engine_number", "108452"),
                ("frame_number", "052917"),
            ]),
        ),
        (
            10025,
            "a vehicle without fixture",
            signed(&vehicle("粤A99999")),
        ),
    ];
    let mut drift = seed_with("1");
    drift.push(("time", &hour_ago));
    cases.push((10004, "an hour of drift", signed(&drift)));
    let mut not_int = seed_with("1");
    not_int.push(("time", "1557294956.5"));
    cases.push((10017, "time not an integer", signed(&not_int)));
    let mut timed = seed_with("1");
    timed.push(("time", &now));
    cases.push((10000, "the seed's example, timed", signed(&timed)));
    // Apps configured into each standing, named after their code.
    for app in [
        "10006", "10007", "10008", "10010", "10011", "10012", "10013", "10018", "10022", "10024",
    ] {
        let code: i64 = app.parse().expect("numeric");
        cases.push((code, "an app in that standing", signed(&seed_with(app))));
    }
    for (want, why, form) in &cases {
        let v = s.post(form).await;
        assert_eq!(code(&v), *want, "{why}: {v}");
        assert_eq!(v["message"], seed_text(*want), "{why}");
        assert!(
            v["time"].as_str().is_some(),
            "{why}: every answer has the platform's time"
        );
    }
    // No cause the sandbox could model: fault rules, in the platform's words.
    for want in [10009, 10019, 10020, 10021] {
        let req = s
            .http
            .post(s.url(PATH))
            .header("content-type", FORM_TYPE)
            .header("x-sandbox-fault", format!("code={want}"))
            .body(encode(&signed(&seed_with("1"))));
        let v = json_of(req.send().await.expect("answers")).await;
        assert_eq!(
            (code(&v), v["message"].as_str()),
            (want, Some(seed_text(want)))
        );
    }
    let debug = s.post(&signed(&seed_with("10024"))).await;
    assert_eq!(
        debug["carNo"], "闽DX009U",
        "debug data is the seed's example, not the vehicle"
    );
}

#[tokio::test]
async fn drift_is_measured_against_the_platforms_clock_which_every_answer_tells() {
    // The platform's clock runs an hour ahead of this host's.
    let s = start(|c| c.apistore.clock_offset_s = 3600).await;
    let host = unix_now();
    let v = s.ask("1", &SEED_QUERY).await;
    assert_eq!(code(&v), 10004, "{v}");
    let theirs: u64 = v["time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("time");
    assert!(theirs.abs_diff(host + 3600) <= 5, "{theirs} vs {host}");
    // A client that corrects its clock by the answer's `time` gets through.
    let corrected = theirs.to_string();
    let mut params: Vec<(&str, &str)> = vec![("appid", "1"), ("time", &corrected)];
    params.extend_from_slice(&SEED_QUERY);
    let v = s
        .post(&with_sign(&params, &sorted_sign(&params, SECRET)))
        .await;
    assert_eq!(code(&v), 10000, "{v}");
    // Ten minutes either way are allowed, more is not (the exact boundary is the unit
    // tests' business: here the clocks tick between two calls).
    for (offset, want) in [(-600_i64, 10000), (600, 10000), (-605, 10004), (605, 10004)] {
        let t = theirs.saturating_add_signed(offset).to_string();
        let mut params: Vec<(&str, &str)> = vec![("appid", "1"), ("time", &t)];
        params.extend_from_slice(&SEED_QUERY);
        let v = s
            .post(&with_sign(&params, &sorted_sign(&params, SECRET)))
            .await;
        // The clocks may tick between the two calls: one second of slack.
        if offset.abs() == 600 && code(&v) == 10004 {
            continue;
        }
        assert_eq!(code(&v), want, "{offset}: {v}");
    }
    // An empty time is no time; milliseconds are 1000 times too far.
    for (t, want) in [
        ("", 10000),
        ("abc", 10017),
        (&(host * 1000).to_string()[..], 10004),
    ] {
        let mut params: Vec<(&str, &str)> = vec![("appid", "1"), ("time", t)];
        params.extend_from_slice(&SEED_QUERY);
        let v = s
            .post(&with_sign(&params, &sorted_sign(&params, SECRET)))
            .await;
        assert_eq!(code(&v), want, "time {t:?}: {v}");
    }
}

/// Every fixture answers in its own shape: `data` or `retdata`; an array, one object or
/// a JSON string; numbers as strings; seed defaults; unknown keys.
#[tokio::test]
async fn answers_come_in_the_vendors_shapes() {
    let s = start(|_| {}).await;
    let ask = |car_no: &'static str,
               car_type: &'static str,
               engine: &'static str,
               frame: &'static str| {
        let s = &s;
        async move {
            let mut p = vec![("car_no", car_no), ("car_type", car_type)];
            if !engine.is_empty() {
                p.push(("engine_number", engine));
            }
            if !frame.is_empty() {
                p.push(("frame_number", frame));
            }
            let v = s.ask("1", &p).await;
            assert_eq!(code(&v), 10000, "{car_no}: {v}");
            v
        }
    };
    let strings = ask("粤B12345", "02", "082315", "012345").await;
    assert_eq!(
        (&strings["vioNum"], &strings["fineTotal"]),
        (&json!("3"), &json!("600"))
    );
    assert_eq!(
        strings["retdata"][0]["handleSign"], "1",
        "numbers as strings"
    );
    assert!(strings.get("data").is_none());

    let none = ask("京AD12345", "52", "240516", "654321").await;
    assert_eq!(
        (&none["vioNum"], &none["data"]),
        (&json!(0), &json!([])),
        "no violations"
    );

    let object = ask("沪AD71562", "52", "068712", "431862").await;
    assert_eq!(object["retdata"]["vioScore"], "6", "a single object");

    let truck = ask("陕AK3702", "01", "905823", "").await;
    assert_eq!(truck["data"]["vioCode"], "1344");

    for (car_no, engine, frame, member) in [
        ("沪A12345", "123456", "123456", "retdata"),
        ("川A88888", "210345", "001234", "data"),
    ] {
        let v = ask(car_no, "02", engine, frame).await;
        let text = v[member].as_str().expect("a JSON string");
        let records: Value = serde_json::from_str(text).expect("decodes");
        assert_eq!(records.as_array().map(Vec::len), Some(2), "{car_no}");
    }

    let defaults = ask("鄂A6P5N4", "02", "234567", "034521").await;
    let records = defaults["retdata"].as_array().expect("array");
    assert_eq!(
        (&records[0]["handleSign"], &records[0]["onlineHandle"]),
        (&json!(""), &json!(""))
    );
    assert!(records[1].get("handleSign").is_none() && records[1].get("onlineHandle").is_none());
    assert_eq!(
        defaults["source"], "交管12123",
        "unknown top-level keys are kept"
    );
    assert_eq!(
        records[1]["fineStatus"], "0",
        "unknown record keys are kept"
    );

    let numbers = ask("粤BD80231", "52", "210345", "218764").await;
    assert_eq!(
        numbers["data"][0]["vioFine"], 100,
        "a JSON number where the seed says String"
    );
    assert_eq!(numbers["data"][0]["handleSign"], 3);

    let disagree = ask("浙A0A123", "02", "000623", "123456").await;
    assert_eq!(disagree["vioNum"], 3);
    assert_eq!(
        disagree["data"].as_array().map(Vec::len),
        Some(2),
        "the vendor's totals, not the records'"
    );

    let frame_only = ask("新A7K8L9", "02", "", "184236").await;
    assert_eq!(frame_only["data"].as_array().map(Vec::len), Some(2));
}

/// Seed 003 says `car_no` 必须大写 and engine/frame 字母必须大写 but documents no
/// answer for lower case: the sandbox looks them up as sent, finds nothing, and answers
/// 10025 查无数据, like platecb. Upper case with the last six characters is found.
#[tokio::test]
async fn lower_case_finds_nothing_and_the_last_six_characters_suffice() {
    let s = start(|_| {}).await;
    let query = |car_no, engine, frame| {
        vec![
            ("car_no", car_no),
            ("car_type", "02"),
            ("engine_number", engine),
            ("frame_number", frame),
        ]
    };
    for (why, params, want) in [
        (
            "full numbers",
            query("粤AJ44E6", "AD50EG081600062", "LNBSCC3H8GF308384"),
            10000,
        ),
        ("last six", query("粤AJ44E6", "600062", "308384"), 10000),
        (
            "separators in the plate",
            query("粤A·J44E6", "600062", "308384"),
            10000,
        ),
        (
            "lower-case plate",
            query("粤aj44e6", "600062", "308384"),
            10025,
        ),
        (
            "lower-case engine",
            query("粤AJ44E6", "ad50eg081600062", "308384"),
            10025,
        ),
        (
            "lower-case frame",
            query("粤AJ44E6", "600062", "lnbscc3h8gf308384"),
            10025,
        ),
        ("last five", query("粤AJ44E6", "00062", "308384"), 10025),
        (
            "a wrong engine",
            query("粤AJ44E6", "600063", "308384"),
            10025,
        ),
    ] {
        let v = s.ask("1", &params).await;
        assert_eq!(code(&v), want, "{why}: {v}");
    }
}

#[tokio::test]
async fn a_post_body_is_read_only_with_the_form_content_type() {
    let s = start(|_| {}).await;
    let form = md5_form("1", &SEED_QUERY);
    let as_json: serde_json::Map<String, Value> =
        form.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let req = s.http.post(s.url(PATH)).json(&as_json);
    let v = json_of(req.send().await.expect("answers")).await;
    assert_eq!(
        code(&v),
        10001,
        "a JSON body has no parameters for PHP: {v}"
    );
    // Without the charset, as reqwest's `form` sends it, it is still a form.
    let req = s.http.post(s.url(PATH)).form(&form);
    let v = json_of(req.send().await.expect("answers")).await;
    assert_eq!(code(&v), 10000, "{v}");
}

#[tokio::test]
async fn calls_are_counted_credits_run_out_and_plate_rules_fire() {
    let s = start(|_| {}).await;
    let unknown = [
        ("car_no", "粤A99999"),
        ("car_type", "02"),
        ("frame_number", "123456"),
    ];
    assert_eq!(code(&s.ask("1", &SEED_QUERY).await), 10000);
    assert_eq!(code(&s.ask("1", &unknown).await), 10025);
    let alias = json_of(
        s.post_to(&format!("/apistore{PATH}"), &md5_form("1", &SEED_QUERY))
            .await,
    )
    .await;
    assert_eq!(code(&alias), 10000);
    let calls = s.admin(reqwest::Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(
        calls["calls"]["apistore"],
        json!({PATH: {"10000": 2, "10025": 1}}),
        "the alias counts as the documented path"
    );

    // App 3 has three credits: billed answers use them, then 10018; a reset restores.
    for _ in 0..3 {
        assert_eq!(code(&s.ask("3", &SEED_QUERY).await), 10000);
    }
    assert_eq!(code(&s.ask("3", &SEED_QUERY).await), 10018);
    s.admin(reqwest::Method::POST, "/_sandbox/reset", None)
        .await;
    assert_eq!(code(&s.ask("3", &SEED_QUERY).await), 10000);

    // A rule for one plate, once: that plate fails, then recovers; others never fail.
    s.admin(
        reqwest::Method::POST,
        "/_sandbox/faults",
        Some(
            json!({"vendor": "apistore", "plate": "粤AJ44E6", "times": 1,
            "action": {"kind": "vendor_code", "code": 10021}}),
        ),
    )
    .await;
    assert_eq!(code(&s.ask("1", &unknown).await), 10025);
    assert_eq!(code(&s.ask("1", &SEED_QUERY).await), 10021);
    assert_eq!(code(&s.ask("1", &SEED_QUERY).await), 10000);
    let calls = s.admin(reqwest::Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["calls"]["apistore"][PATH]["10021"], 1);
}

#[tokio::test]
async fn info_lists_apps_and_fixtures_but_no_secret() {
    let s = start(|_| {}).await;
    let info = s.admin(reqwest::Method::GET, "/_sandbox/info", None).await;
    let v = &info["vendors"]["apistore"];
    assert_eq!(v["paths"], json!([PATH, format!("/apistore{PATH}")]));
    let apps = v["apps"].as_array().expect("apps");
    assert!(
        apps.iter()
            .any(|a| a["appid"] == "2" && a["sign_mode"] == "hash")
    );
    assert!(
        apps.iter()
            .any(|a| a["appid"] == "10024" && a["status"] == "debug")
    );
    assert!(apps.iter().any(|a| a["appid"] == "3" && a["credits"] == 3));
    let fixtures = v["fixtures"].as_array().expect("fixtures");
    assert!(fixtures.len() >= 13, "the seed's vehicle and a dozen more");
    assert!(
        fixtures
            .iter()
            .any(|f| f["car_no"] == "苏E9T8R7" && f["async"] == true)
    );
    let text = info.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains(HASH_SECRET),
        "no secrets in /info"
    );
}
