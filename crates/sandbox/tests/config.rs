//! Configuration: the shipped example parses, defaults survive a TOML round trip (as
//! `kit::config` layering needs), and unknown keys are refused.

use sandbox::{AccountState, FaultAction, SandboxConfig};

#[test]
fn shipped_example_config_parses_and_starts() {
    let text = include_str!("../sandbox.example.toml");
    let cfg: SandboxConfig = toml::from_str(text).expect("sandbox.example.toml parses");
    assert_eq!(cfg.listen.to_string(), sandbox::DEFAULT_LISTEN);
    assert!(!cfg.faults.is_empty());
    assert!(
        cfg.connapi
            .accounts
            .iter()
            .any(|a| a.key == "sandbox-connapi-signed" && a.sign_secret.is_some())
    );
    assert!(
        cfg.apistore
            .apps
            .iter()
            .any(|a| a.sign_mode == sandbox::SignMode::Hash)
    );
    assert!(
        cfg.apistore
            .apps
            .iter()
            .any(|a| a.status == sandbox::AppStatus::Debug)
    );
    // Every rule in the example is valid, so the sandbox would start with it.
    sandbox::AppState::new(&cfg).expect("example config is valid");
}

#[test]
fn defaults_round_trip_through_toml() {
    let cfg = SandboxConfig::default();
    let value = toml::Value::try_from(&cfg).expect("serialises");
    let back: SandboxConfig = value.try_into().expect("deserialises");
    assert_eq!(back, cfg);
    let empty: SandboxConfig = toml::from_str("").expect("empty document");
    assert_eq!(empty, cfg);
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(toml::from_str::<SandboxConfig>("lisen = \"127.0.0.1:1\"").is_err());
    assert!(
        toml::from_str::<SandboxConfig>("[[faults]]\naction = { kind = \"reset\", x = 1 }")
            .is_err()
    );
}

#[test]
fn fault_rules_and_accounts_in_toml() {
    let cfg: SandboxConfig = toml::from_str(
        r#"
        seed = 42
        [[faults]]
        vendor = "connapi"
        probability = 0.1
        action = { kind = "vendor_code", code = 500 }
        [[connapi.accounts]]
        key = "k"
        state = "suspended"
        balance = 10
        "#,
    )
    .expect("parses");
    assert_eq!(cfg.seed, 42);
    assert_eq!(
        cfg.faults[0].action,
        Some(FaultAction::VendorCode {
            code: 500,
            msg: None
        })
    );
    assert_eq!(
        cfg.connapi.accounts.len(),
        1,
        "a list replaces the defaults"
    );
    assert_eq!(cfg.connapi.accounts[0].state, AccountState::Suspended);
}

#[test]
fn apistore_apps_in_toml() {
    let cfg: SandboxConfig = toml::from_str(
        r#"
        [apistore]
        clock_offset_s = -30
        [[apistore.apps]]
        appid = "77"
        secret = "s"
        sign_mode = "hash"
        status = "no_balance"
        credits = 0
        "#,
    )
    .expect("parses");
    assert_eq!(cfg.apistore.clock_offset_s, -30);
    assert_eq!(cfg.apistore.apps.len(), 1, "a list replaces the defaults");
    let app = &cfg.apistore.apps[0];
    assert_eq!(
        (app.sign_mode, app.status, app.credits),
        (
            sandbox::SignMode::Hash,
            sandbox::AppStatus::NoBalance,
            Some(0)
        )
    );
    assert_eq!(app.status.refusal(), Some(10022));
    assert!(
        toml::from_str::<SandboxConfig>(
            "[[apistore.apps]]\nappid = \"1\"\nsecret = \"s\"\nmode = \"md5\""
        )
        .is_err(),
        "unknown keys are refused"
    );
}

#[test]
fn invalid_rules_fail_start() {
    let cfg: SandboxConfig =
        toml::from_str("[[faults]]\nprobability = 1.5\n").expect("syntax is fine");
    assert!(sandbox::AppState::new(&cfg).is_err());
}
