//! The `g-aigateway` binary: configuration errors, help, JSON access log, SIGTERM.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_g-aigateway");

fn gateway() -> Command {
    let mut cmd = Command::new(BIN);
    // A scratch working directory: no stray .env is picked up.
    cmd.current_dir(std::env::temp_dir()).env_clear();
    cmd
}

#[test]
fn invalid_configuration_exits_non_zero_with_a_clear_message() {
    let output = gateway().env("PORT", "not-a-port").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("configuration error") && stderr.contains("PORT"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let output = gateway()
        .args(["--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_explains_the_options() {
    let output = gateway().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for word in [
        "--config",
        "--listen",
        "TARGET_URL",
        "DEEPSEEK_API_KEY",
        "REDIS_URL",
    ] {
        assert!(text.contains(word), "help lacks {word}:\n{text}");
    }
}

/// Reads stdout lines on a thread so the test can wait with a deadline.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_json(rx: &mpsc::Receiver<String>, message: &str) -> Value {
    loop {
        let line = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no {message:?} log line"));
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["message"] == message
        {
            return v;
        }
    }
}

#[tokio::test]
async fn the_binary_logs_one_json_line_per_request_and_drains_on_sigterm() {
    let mock = mock().await;
    let mut child = gateway()
        .args(["--listen", "127.0.0.1:0"])
        .env("TARGET_URL", format!("http://{}", mock.addr))
        .env("DEEPSEEK_API_KEY", "sk-secret-upstream")
        .env("GATEWAY_API_KEYS", format!("team-a={KEY_A}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let started = next_json(&rx, "gateway listening");
    let addr = started["addr"].as_str().expect("bound address").to_string();

    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .body(chat("log me").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    response.text().await.unwrap();

    let line = next_json(&rx, "request");
    assert_eq!(line["request_id"], request_id);
    assert_eq!(line["tenant"], "team-a");
    assert_eq!(line["model"], "mock-model");
    assert_eq!(line["route"], "chat_completions");
    assert_eq!(line["status"], 200);
    assert_eq!(line["attempts"], 1);
    assert_eq!(line["stream"], false);
    assert!(line["latency_ms"].as_f64().is_some());
    assert!(!line.to_string().contains("sk-secret-upstream"));

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let waited =
        tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || child.wait())).await;
    let status = waited
        .expect("gateway did not exit on SIGTERM")
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// A config file sending `mock-model` to `serving` (`a` or `b`).
fn routing_file(path: &std::path::Path, a: &str, b: &str, serving: &str) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[[upstreams]]\nname = \"a\"\nbase_url = \"{a}\"\n\
         [[upstreams]]\nname = \"b\"\nbase_url = \"{b}\"\n\n[models]\n\"mock-model\" = \"{serving}\"\n\n\
         [[tenants]]\nname = \"team-a\"\napi_keys = [\"{KEY_A}\"]\n\n[cache]\nenabled = false\n"
    );
    std::fs::write(path, text).expect("write config");
}

#[tokio::test]
async fn sighup_reloads_the_configuration_and_a_bad_file_keeps_the_running_one() {
    let (a, b) = (mock().await, mock().await);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.toml");
    routing_file(&path, &a.base_url(), &b.base_url(), "a");
    let mut child = gateway()
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let started = next_json(&rx, "gateway listening");
    let addr = started["addr"].as_str().expect("bound address").to_string();
    let http = reqwest::Client::new();
    let ask = async |text: &str| {
        let response = http
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .body(chat(text).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.headers()["x-gateway-upstream"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let hangup = || {
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(sent.success());
    };
    assert_eq!(ask("before").await, "a");
    // A broken file: refused, logged with its reason; `a` still serves.
    std::fs::write(&path, "[models\n").expect("write");
    hangup();
    let refused = next_json(
        &rx,
        "configuration reload refused: the running configuration stays",
    );
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("gateway.toml")),
        "{refused}"
    );
    assert_eq!(ask("still a").await, "a");
    // A good one moves the model to `b`, on the same process and port.
    routing_file(&path, &a.base_url(), &b.base_url(), "b");
    hangup();
    next_json(&rx, "configuration reloaded");
    assert_eq!(ask("after").await, "b");
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let waited =
        tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || child.wait())).await;
    assert!(
        waited
            .expect("exits on SIGTERM")
            .unwrap()
            .unwrap()
            .success()
    );
}
