use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::*;
use crate::cache::{CachedResponse, PurgeScope, Usage};
use crate::config::SemanticConfig;
use crate::embedding::normalize;
use crate::metrics::Metrics;

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("object"),
    }
}

fn chat(system: &str, user: &str) -> Map<String, Value> {
    fields(json!({"model": "m", "temperature": 0.2, "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": user}]}))
}

fn part(f: &Map<String, Value>) -> PartitionKey {
    partition_of("tenant:a", "local:minilm", 384, f).unwrap().0
}

#[test]
fn the_partition_ignores_only_the_last_user_text() {
    let a = chat("Be brief.", "How do I reset my password?");
    let b = chat("Be brief.", "how can I reset my password");
    assert_eq!(part(&a), part(&b));
    assert_eq!(
        partition_of("tenant:a", "e", 3, &a).unwrap().1,
        "How do I reset my password?"
    );
    let mut streamed = b.clone();
    streamed.insert("stream".into(), json!(true));
    assert_eq!(part(&a), part(&streamed));
}

#[test]
fn anything_else_that_differs_changes_the_partition() {
    let a = chat("Be brief.", "q");
    assert_ne!(part(&a), part(&chat("Be verbose.", "q")));
    let mut model = a.clone();
    model.insert("model".into(), json!("other"));
    assert_ne!(part(&a), part(&model));
    let mut tools = a.clone();
    tools.insert("tools".into(), json!([{"type": "function"}]));
    assert_ne!(part(&a), part(&tools));
    let mut temperature = a.clone();
    temperature.insert("temperature".into(), json!(0.3));
    assert_ne!(part(&a), part(&temperature));
    assert_ne!(
        part(&a),
        partition_of("tenant:b", "local:minilm", 384, &a).unwrap().0
    );
    assert_ne!(
        part(&a),
        partition_of("tenant:a", "remote:x", 384, &a).unwrap().0
    );
    assert_ne!(
        part(&a),
        partition_of("tenant:a", "local:minilm", 768, &a).unwrap().0
    );
    let turn = fields(json!({"model": "m", "temperature": 0.2, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"}, {"role": "user", "content": "q"}]}));
    assert_ne!(part(&a), part(&turn));
}

#[test]
fn text_parts_are_read_as_the_prompt_they_spell() {
    let plain = fields(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}]}));
    let parts = fields(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Why is the sky blue?"}]}]}));
    assert_eq!(
        partition_of("s", "e", 3, &parts),
        partition_of("s", "e", 3, &plain)
    );
    let two = fields(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Summarise this:"}, {"type": "text", "text": "The cat sat."}]}]}),
    );
    assert_eq!(
        partition_of("s", "e", 3, &two).unwrap().1,
        "Summarise this:\nThe cat sat."
    );
}

#[test]
fn requests_without_a_last_user_text_have_no_partition() {
    let assistant_last =
        fields(json!({"model": "m", "messages": [{"role": "assistant", "content": "x"}]}));
    assert!(partition_of("s", "e", 3, &assistant_last).is_none());
    let image = fields(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
    );
    assert!(partition_of("s", "e", 3, &image).is_none());
    let odd = fields(
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
    );
    assert!(partition_of("s", "e", 3, &odd).is_none());
    let no_parts = fields(json!({"model": "m", "messages": [{"role": "user", "content": []}]}));
    assert!(partition_of("s", "e", 3, &no_parts).is_none());
    let blank = fields(json!({"model": "m", "messages": [{"role": "user", "content": "  "}]}));
    assert!(partition_of("s", "e", 3, &blank).is_none());
}

fn unit(rng: &mut StdRng) -> Arc<[f32]> {
    let mut v: Vec<f32> = (0..32).map(|_| rng.random_range(-1.0..1.0)).collect();
    normalize(&mut v);
    v.into()
}

/// A vector at a given similarity to `base` (in the plane of `base` and `other`).
fn near(base: &[f32], other: &[f32], similarity: f32) -> Arc<[f32]> {
    let dot: f32 = base.iter().zip(other).map(|(a, b)| a * b).sum();
    let mut ortho: Vec<f32> = other.iter().zip(base).map(|(o, b)| o - dot * b).collect();
    normalize(&mut ortho);
    let s = (1.0 - similarity * similarity).sqrt();
    let mut v: Vec<f32> = base
        .iter()
        .zip(&ortho)
        .map(|(b, o)| similarity * b + s * o)
        .collect();
    normalize(&mut v);
    v.into()
}

fn answer(ttl: Duration) -> Arc<CachedResponse> {
    Arc::new(CachedResponse::new(
        Bytes::from_static(b"{}"),
        ttl,
        Usage::default(),
    ))
}

fn cache(config: SemanticConfig) -> SemanticCache {
    SemanticCache::new(config, Arc::default(), Arc::new(Metrics::new()))
}

/// A local fill of `text` in partition `p` (scope `tenant:a`).
fn put(
    l2: &SemanticCache,
    p: PartitionKey,
    text: &str,
    v: &Arc<[f32]>,
    response: Arc<CachedResponse>,
) -> bool {
    l2.insert(NewEntry::local(
        "tenant:a",
        p,
        text.to_string(),
        Arc::clone(v),
        response,
    ))
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_close_enough_verified_candidate_is_a_hit() {
    let mut rng = StdRng::seed_from_u64(1);
    let l2 = cache(SemanticConfig::default());
    let (p, v, w) = ([1; 32], unit(&mut rng), unit(&mut rng));
    put(&l2, p, "How do I reset my password?", &v, answer(HOUR));
    let q = near(&v, &w, 0.95);
    assert!(matches!(
        l2.lookup(&p, "how can I reset my password", &q, 0.9),
        Lookup::Hit { .. }
    ));
    assert!(matches!(
        l2.lookup(&p, "how can I reset my password", &q, 0.97),
        Lookup::Miss { .. }
    ));
    assert!(matches!(
        l2.lookup(&[2; 32], "how can I reset my password", &q, 0.9),
        Lookup::Miss { best: None }
    ));
}

#[test]
fn a_candidate_failing_a_guard_is_rejected() {
    let mut rng = StdRng::seed_from_u64(2);
    let l2 = cache(SemanticConfig::default());
    let (p, v) = ([1; 32], unit(&mut rng));
    put(&l2, p, "Can I bake a cake with 3 eggs?", &v, answer(HOUR));
    match l2.lookup(&p, "Can I bake a cake with 4 eggs?", &v, 0.9) {
        Lookup::Rejected { why, .. } => assert_eq!(why, Rejection::Numbers),
        _ => panic!("must be rejected"),
    }
}

#[test]
fn expired_entries_are_never_returned_and_are_swept() {
    let mut rng = StdRng::seed_from_u64(3);
    let l2 = cache(SemanticConfig::default());
    let (p, v) = ([1; 32], unit(&mut rng));
    put(&l2, p, "q", &v, answer(Duration::ZERO));
    assert!(matches!(
        l2.lookup(&p, "q", &v, 0.5),
        Lookup::Miss { best: None }
    ));
    l2.sweep();
    assert_eq!(l2.len(), 0);
}

#[test]
fn the_entry_count_is_bounded_oldest_out_first() {
    let mut rng = StdRng::seed_from_u64(4);
    let l2 = cache(SemanticConfig {
        max_entries: 10,
        ..SemanticConfig::default()
    });
    let vectors: Vec<_> = (0..25).map(|_| unit(&mut rng)).collect();
    for (i, v) in vectors.iter().enumerate() {
        put(&l2, [1; 32], &format!("q{i}"), v, answer(HOUR));
    }
    assert_eq!(l2.len(), 10);
    assert!(matches!(
        l2.lookup(&[1; 32], "q0", &vectors[0], 0.999),
        Lookup::Miss { .. }
    ));
    assert!(matches!(
        l2.lookup(&[1; 32], "q24", &vectors[24], 0.999),
        Lookup::Hit { .. }
    ));
}

#[test]
fn memory_is_bounded_too() {
    let mut rng = StdRng::seed_from_u64(5);
    let l2 = cache(SemanticConfig {
        max_bytes: 20_000,
        ..SemanticConfig::default()
    });
    let mut last = unit(&mut rng);
    for i in 0..200 {
        last = unit(&mut rng);
        put(&l2, [1; 32], &format!("question {i}"), &last, answer(HOUR));
    }
    assert!(l2.stats().bytes <= 20_000);
    assert!(l2.len() < 200);
    // Evictions leave tombstones; a background rebuild clears them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while l2.rebuilding() {
        assert!(
            std::time::Instant::now() < deadline,
            "rebuild never finished"
        );
        std::thread::yield_now();
    }
    assert!(matches!(
        l2.lookup(&[1; 32], "question 199", &last, 0.99),
        Lookup::Hit { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_partition_moves_to_hnsw_and_keeps_answering_during_rebuilds() {
    let mut rng = StdRng::seed_from_u64(6);
    let l2 = Arc::new(cache(SemanticConfig {
        exact_scan_max: 100,
        max_entries: 400,
        ..SemanticConfig::default()
    }));
    let vectors: Vec<_> = (0..1_000).map(|_| unit(&mut rng)).collect();
    let searcher = {
        let (l2, probe) = (Arc::clone(&l2), Arc::clone(&vectors[999]));
        tokio::task::spawn_blocking(move || {
            let mut answered = 0;
            for _ in 0..2_000 {
                if !matches!(
                    l2.lookup(&[1; 32], "x", &probe, 0.0),
                    Lookup::Miss { best: None }
                ) {
                    answered += 1;
                }
            }
            answered
        })
    };
    for (i, v) in vectors.iter().enumerate() {
        put(&l2, [1; 32], &format!("q{i}"), v, answer(HOUR));
    }
    let answered = searcher.await.unwrap();
    assert!(answered > 0);
    // Wait for the last background rebuild to land, then every recent entry is found.
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        while l2.rebuilding() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(settled.is_ok());
    assert_eq!(l2.len(), 400);
    let found = (600..1_000)
        .filter(|i| {
            matches!(
                l2.lookup(&[1; 32], &format!("q{i}"), &vectors[*i], 0.99),
                Lookup::Hit { .. }
            )
        })
        .count();
    assert!(found >= 390, "found {found}/400 after rebuilds");
}

fn remote(id: EntryId, scope: &str, p: PartitionKey, text: &str, v: &Arc<[f32]>) -> NewEntry {
    let now = crate::cache::now_ms();
    NewEntry {
        id,
        scope: scope.into(),
        partition: p,
        text: text.into(),
        vector: Arc::clone(v),
        stored_at_ms: now,
        expires_at_ms: now + 60_000,
        response: None,
    }
}

#[test]
fn the_same_fill_twice_is_one_entry() {
    let mut rng = StdRng::seed_from_u64(7);
    let l2 = cache(SemanticConfig::default());
    let v = unit(&mut rng);
    assert!(put(&l2, [1; 32], "q", &v, answer(HOUR)));
    assert!(!put(&l2, [1; 32], "q", &v, answer(HOUR)));
    let id = entry_id(&[1; 32], "q");
    assert!(!l2.insert(remote(id, "tenant:a", [1; 32], "q", &v)));
    assert_eq!(l2.len(), 1);
    assert_ne!(id, entry_id(&[2; 32], "q"));
    assert_ne!(id, entry_id(&[1; 32], "q2"));
}

#[test]
fn an_entry_from_another_node_answers_remotely_until_its_answer_is_attached() {
    let mut rng = StdRng::seed_from_u64(8);
    let l2 = cache(SemanticConfig::default());
    let v = unit(&mut rng);
    let id = entry_id(&[1; 32], "q");
    assert!(l2.insert(remote(id, "tenant:a", [1; 32], "q", &v)));
    match l2.lookup(&[1; 32], "q", &v, 0.9) {
        Lookup::Hit {
            answer: Answer::Remote(got),
            ..
        } => assert_eq!(got, id),
        _ => panic!("a remote hit"),
    }
    assert_eq!(l2.stats().remote_bodies, 1);
    l2.attach(&id, answer(HOUR));
    assert!(matches!(
        l2.lookup(&[1; 32], "q", &v, 0.9),
        Lookup::Hit {
            answer: Answer::Local(_),
            ..
        }
    ));
    l2.forget(&id);
    assert!(l2.is_empty());
}

#[test]
fn a_purge_drops_its_scope_only_and_its_mark_refuses_older_entries() {
    let mut rng = StdRng::seed_from_u64(9);
    let purges = Arc::new(crate::cache::Purges::default());
    let l2 = SemanticCache::new(
        SemanticConfig::default(),
        Arc::clone(&purges),
        Arc::new(Metrics::new()),
    );
    let (v, w) = (unit(&mut rng), unit(&mut rng));
    assert!(l2.insert(remote([1; 16], "tenant:a", [1; 32], "a", &v)));
    assert!(l2.insert(remote([2; 16], "tenant:b", [2; 32], "b", &w)));
    let scope = PurgeScope::Scope("tenant:a".into());
    let at = crate::cache::now_ms();
    purges.record(&scope, at);
    assert_eq!(l2.purge(&scope, at), 1);
    assert!(matches!(
        l2.lookup(&[1; 32], "a", &v, 0.5),
        Lookup::Miss { best: None }
    ));
    assert!(matches!(
        l2.lookup(&[2; 32], "b", &w, 0.9),
        Lookup::Hit { .. }
    ));
    // A replay of an entry stored before the purge stays out.
    let mut old = remote([3; 16], "tenant:a", [1; 32], "a", &v);
    old.stored_at_ms = at - 1;
    assert!(!l2.insert(old));
}

#[test]
fn a_bulk_load_defers_the_move_to_hnsw_and_keeps_every_entry_searchable() {
    let mut rng = StdRng::seed_from_u64(10);
    let l2 = cache(SemanticConfig {
        exact_scan_max: 50,
        ..SemanticConfig::default()
    });
    let vectors: Vec<_> = (0..300).map(|_| unit(&mut rng)).collect();
    let entries = vectors.iter().enumerate().map(|(i, v)| {
        remote(
            entry_id(&[1; 32], &i.to_string()),
            "s",
            [1; 32],
            &i.to_string(),
            v,
        )
    });
    assert_eq!(l2.insert_all(entries), 300);
    assert_eq!(l2.len(), 300);
    for i in [0, 150, 299] {
        assert!(matches!(
            l2.lookup(&[1; 32], &i.to_string(), &vectors[i], 0.99),
            Lookup::Hit { .. }
        ));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while l2.rebuilding() {
        assert!(
            std::time::Instant::now() < deadline,
            "rebuild never finished"
        );
        std::thread::yield_now();
    }
    assert_eq!(l2.stats().hnsw_partitions, 1);
}

/// A store of 300 entries in one partition whose index is a graph.
fn graphed(rng: &mut StdRng) -> (SemanticCache, Vec<Arc<[f32]>>) {
    let l2 = cache(SemanticConfig {
        exact_scan_max: 50,
        ..SemanticConfig::default()
    });
    let vectors: Vec<_> = (0..300).map(|_| unit(rng)).collect();
    let entries = vectors.iter().enumerate().map(|(i, v)| {
        let text = i.to_string();
        remote(entry_id(&[1; 32], &text), "s", [1; 32], &text, v)
    });
    l2.insert_all(entries);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while l2.rebuilding() {
        assert!(
            std::time::Instant::now() < deadline,
            "rebuild never finished"
        );
        std::thread::yield_now();
    }
    assert_eq!(l2.stats().hnsw_partitions, 1);
    (l2, vectors)
}

/// Loads `entries` into a fresh store with `graphs` installed before any rebuild.
fn restored(entries: Vec<NewEntry>, graphs: &[(PartitionKey, Vec<u8>)]) -> (SemanticCache, usize) {
    let l2 = cache(SemanticConfig {
        exact_scan_max: 50,
        ..SemanticConfig::default()
    });
    let archive: std::collections::HashMap<u64, (EntryId, Arc<[f32]>)> = entries
        .iter()
        .map(|e| (graph_key(&e.id), (e.id, Arc::clone(&e.vector))))
        .collect();
    let lookup = |key: u64| archive.get(&key).cloned();
    let graphs: Vec<(PartitionKey, &[u8])> =
        graphs.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    let mut installed = 0;
    l2.insert_all_then(entries.clone(), |c| {
        installed = c.install_graphs(&graphs, &lookup)
    });
    (l2, installed)
}

#[test]
fn a_saved_graph_is_installed_at_load_and_no_rebuild_is_needed() {
    let mut rng = StdRng::seed_from_u64(11);
    let (l2, vectors) = graphed(&mut rng);
    let (entries, graphs) = l2.export_with_graphs();
    assert_eq!((entries.len(), graphs.len()), (300, 1));
    let (back, installed) = restored(entries, &graphs);
    assert_eq!(installed, 1);
    assert!(!back.rebuilding(), "the installed graph needs no rebuild");
    assert_eq!(back.stats().hnsw_partitions, 1);
    for (i, v) in vectors.iter().enumerate() {
        assert!(
            matches!(
                back.lookup(&[1; 32], &i.to_string(), v, 0.99),
                Lookup::Hit { .. }
            ),
            "entry {i}"
        );
    }
    // New fills go into the loaded graph.
    let extra = unit(&mut rng);
    assert!(back.insert(remote(
        entry_id(&[1; 32], "new"),
        "s",
        [1; 32],
        "new",
        &extra
    )));
    assert!(matches!(
        back.lookup(&[1; 32], "new", &extra, 0.99),
        Lookup::Hit { .. }
    ));
}

#[test]
fn entries_gone_at_load_stay_in_the_graph_as_tombstones_never_as_answers() {
    let mut rng = StdRng::seed_from_u64(12);
    let (l2, vectors) = graphed(&mut rng);
    let (mut entries, graphs) = l2.export_with_graphs();
    // A fifth of them expired while the node was down: the store refuses them.
    let past = crate::cache::now_ms() - 1;
    let expired: std::collections::HashSet<String> =
        entries.iter().step_by(5).map(|e| e.text.clone()).collect();
    for e in entries.iter_mut().filter(|e| expired.contains(&e.text)) {
        e.expires_at_ms = past;
    }
    let (back, installed) = restored(entries, &graphs);
    assert_eq!(installed, 1);
    assert_eq!(back.len(), 240);
    for (i, v) in vectors.iter().enumerate() {
        let text = i.to_string();
        let hit = matches!(back.lookup(&[1; 32], &text, v, 0.99), Lookup::Hit { .. });
        assert_eq!(hit, !expired.contains(&text), "entry {i}");
    }
}

#[test]
fn a_damaged_saved_graph_is_refused_and_the_partition_rebuilt() {
    let mut rng = StdRng::seed_from_u64(13);
    let (l2, vectors) = graphed(&mut rng);
    let (entries, mut graphs) = l2.export_with_graphs();
    let middle = graphs[0].1.len() / 2;
    graphs[0].1[middle] ^= 0xff;
    let (back, installed) = restored(entries, &graphs);
    assert_eq!(installed, 0);
    // Searchable meanwhile (exact scan), then rebuilt as before.
    assert!(matches!(
        back.lookup(&[1; 32], "7", &vectors[7], 0.99),
        Lookup::Hit { .. }
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while back.rebuilding() || back.stats().hnsw_partitions == 0 {
        assert!(std::time::Instant::now() < deadline, "never rebuilt");
        std::thread::yield_now();
    }
}

#[test]
fn a_reread_cosine_raises_a_candidate_and_keeps_them_in_order() {
    let candidate = |text: &str, similarity: f32| Candidate {
        answer: Answer::Remote(entry_id(&[0; 32], text)),
        text: text.to_string(),
        similarity,
    };
    let mut candidates = vec![
        candidate("first", 0.85),
        candidate("second", 0.70),
        candidate("third", 0.60),
    ];
    // The third read with its slips aligned is closer than either; a lower
    // reading and a position past the end change nothing.
    raise_reread(&mut candidates, [(2, 0.90), (1, 0.50), (7, 0.99)]);
    let order: Vec<(&str, f32)> = candidates
        .iter()
        .map(|c| (c.text.as_str(), c.similarity))
        .collect();
    assert_eq!(order, [("third", 0.90), ("first", 0.85), ("second", 0.70)]);
}
