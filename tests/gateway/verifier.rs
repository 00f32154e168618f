//! The L2 pair verifier through the running gateway, with the real base
//! model and the shipped adapter: paraphrases the embeddings alone missed now
//! hit, near-misses of every hard class never do, the wanted precision moves
//! the decision, a broken verifier is a clear start-up error, and sampled hits
//! are audited upstream.

use std::time::Duration;

use g_aigateway::RunError;
use g_aigateway::config::{Guard, VerifierMode};
use serde_json::Value;

use crate::semantic::{ask, question, with_l2};
use crate::support::*;

/// Inserts `cached` in a partition of its own (the system prompt), then asks
/// `asked` there; the second answer's cache label.
async fn pair(
    gw: &TestGateway,
    n: usize,
    cached: &str,
    asked: &str,
    headers: &[(&str, &str)],
) -> String {
    let system = format!("verifier pair {n}");
    assert_eq!(
        ask(gw, KEY_A, &question(&system, cached), &[]).await.0,
        "miss"
    );
    ask(gw, KEY_A, &question(&system, asked), headers).await.0
}

const PARAPHRASES: [(&str, &str); 6] = [
    (
        "What is the capital city of Australia?",
        "what's the capital of australia",
    ),
    (
        "Give me a recipe for chocolate chip cookies.",
        "Can you give me a chocolate chip cookie recipe?",
    ),
    ("How do I reset my password?", "how can I reset my password"),
    (
        "What is the boiling point of water?",
        "At what temperature does water boil?",
    ),
    (
        "Explain quantum entanglement in simple terms.",
        "Can you explain quantum entanglement to me simply?",
    ),
    ("How do I make pancakes?", "What's a good pancake recipe?"),
];

/// Looser rewordings: the verifier is less sure of these, so they lie
/// between the cut-offs of a low and a high wanted precision.
const LOOSER_PARAPHRASES: [(&str, &str); 5] = [
    (
        "What are some tips for sleeping better?",
        "How can I improve my sleep?",
    ),
    ("Why is the sky blue?", "What makes the sky look blue?"),
    (
        "How do I learn to code?",
        "What's the best way to start learning programming?",
    ),
    (
        "Recommend a good science fiction book.",
        "What sci-fi novel should I read?",
    ),
    (
        "How can I lose weight quickly?",
        "What is the fastest way to lose weight?",
    ),
];

#[tokio::test]
async fn paraphrases_that_cosine_alone_missed_now_hit() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let mut missed = Vec::new();
    for (n, (cached, asked)) in PARAPHRASES.iter().enumerate() {
        if pair(&gw, n, cached, asked, &[]).await != "hit-l2" {
            missed.push(*asked);
        }
    }
    // At min_precision 0.95 the verifier finds about 75 % of paraphrases on
    // its validation split (README, "Semantic quality"); these everyday ones
    // hit more often than that. The first two missed at the old default
    // (cosine 0.95 + rules) and must hit.
    let hits = PARAPHRASES.len() - missed.len();
    assert!(
        hits >= 4,
        "{hits} of {} hit; missed {missed:?}",
        PARAPHRASES.len()
    );
    assert_eq!(
        pair(&gw, 100, PARAPHRASES[0].0, PARAPHRASES[0].1, &[]).await,
        "hit-l2"
    );
    assert_eq!(
        pair(&gw, 101, PARAPHRASES[1].0, PARAPHRASES[1].1, &[]).await,
        "hit-l2"
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_l2_verifier_score_count"),
        "{metrics}"
    );
}

#[tokio::test]
async fn near_misses_of_every_hard_class_never_hit() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let near_misses = [
        // role swaps
        (
            "Did the Romans conquer the Greeks?",
            "Did the Greeks conquer the Romans?",
        ),
        (
            "How did Einstein influence Bohr?",
            "How did Bohr influence Einstein?",
        ),
        // opposite qualifiers and intents
        (
            "How long should I boil an egg for a soft yolk?",
            "How long should I boil an egg for a hard yolk?",
        ),
        (
            "How do I install Docker on Ubuntu?",
            "How do I uninstall Docker on Ubuntu?",
        ),
        (
            "What are the benefits of ibuprofen?",
            "What are the side effects of ibuprofen?",
        ),
        (
            "Write a formal email to my boss asking for a day off.",
            "Write a casual email to my boss asking for a day off.",
        ),
        // numbers, dates, units
        (
            "Write a 300-word essay about climate change.",
            "Write a 500-word essay about climate change.",
        ),
        (
            "Who won the World Cup in 2014?",
            "Who won the World Cup in 2018?",
        ),
        (
            "Convert 10 miles to kilometers.",
            "Convert 10 kilometers to miles.",
        ),
        // entities, languages, programming languages
        (
            "What is the capital of Austria?",
            "What is the capital of Australia?",
        ),
        (
            "Translate 'good morning' into French.",
            "Translate 'good morning' into German.",
        ),
        (
            "How do I reverse a string in Python?",
            "How do I reverse a string in JavaScript?",
        ),
        // another species
        ("How long do cats live?", "How long do dogs live?"),
        // negation
        (
            "Which foods are healthy for dogs?",
            "Which foods are not healthy for dogs?",
        ),
    ];
    for (n, (cached, asked)) in near_misses.iter().enumerate() {
        let label = pair(&gw, n, cached, asked, &[]).await;
        assert_eq!(
            label, "miss",
            "{asked:?} was answered with the answer to {cached:?}"
        );
    }
}

/// Another leading question word about the same subject, which the
/// verifier alone passes (scores 0.984–0.997).
const QUESTION_WORD_CHANGES: [(&str, &str); 4] = [
    (
        "When did the Berlin Wall fall?",
        "Why did the Berlin Wall fall?",
    ),
    (
        "Why did the Roman Empire collapse?",
        "When did the Roman Empire collapse?",
    ),
    ("Why did the Titanic sink?", "When did the Titanic sink?"),
    ("How did Napoleon die?", "When did Napoleon die?"),
];

#[tokio::test]
async fn another_leading_question_word_never_hits_and_the_same_question_reworded_does() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    for (n, (cached, asked)) in QUESTION_WORD_CHANGES.iter().enumerate() {
        assert_eq!(
            pair(&gw, n, cached, asked, &[]).await,
            "miss",
            "{asked:?} was answered with the answer to {cached:?}"
        );
    }
    // The same thing asked with other words for it.
    let rewordings = [
        ("When was Einstein born?", "What year was Einstein born?"),
        (
            "Why did Microsoft buy GitHub?",
            "What was Microsoft's reason for buying GitHub?",
        ),
    ];
    for (n, (cached, asked)) in rewordings.iter().enumerate() {
        assert_eq!(
            pair(&gw, 10 + n, cached, asked, &[]).await,
            "hit-l2",
            "{asked:?} after {cached:?}"
        );
    }
    // Without the `question` veto the verifier answers them from each other:
    // the veto is what refuses them.
    let mut config = config_for(&mock);
    with_l2(&mut config);
    config.semantic.vetoes = vec![Guard::Numbers, Guard::Direction];
    let gw = start(config).await;
    for (n, (cached, asked)) in QUESTION_WORD_CHANGES.iter().enumerate() {
        assert_eq!(
            pair(&gw, n, cached, asked, &[]).await,
            "hit-l2",
            "{asked:?} after {cached:?}"
        );
    }
}

#[tokio::test]
async fn rewordings_around_an_infinitive_to_hit_and_swapped_directions_do_not() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    // Before stop 35 the direction veto refused these (two shared words in
    // another order, "to" in both texts) although the verifier passed them.
    let rewordings = [
        (
            "Are raw oysters safe to eat?",
            "Is it safe to eat raw oysters?",
        ),
        (
            "How do I convert a string to lowercase in Go?",
            "Show me Go code to convert a string to lowercase.",
        ),
    ];
    for (n, (cached, asked)) in rewordings.iter().enumerate() {
        assert_eq!(
            pair(&gw, n, cached, asked, &[]).await,
            "hit-l2",
            "{asked:?} after {cached:?}"
        );
    }
    // The ends swapped: by order, by marker with the order kept, or both.
    let swapped = [
        (
            "How do I migrate a database from MySQL to PostgreSQL?",
            "How do I migrate a database to MySQL from PostgreSQL?",
        ),
        (
            "How do I copy files from my laptop to Google Drive?",
            "How do I copy files to my laptop from Google Drive?",
        ),
        (
            "How long is the flight from London to Tokyo?",
            "How long is a flight to London from Tokyo?",
        ),
    ];
    for (n, (cached, asked)) in swapped.iter().enumerate() {
        assert_eq!(
            pair(&gw, 10 + n, cached, asked, &[]).await,
            "miss",
            "{asked:?} was answered with the answer to {cached:?}"
        );
    }
}

#[tokio::test]
async fn a_misspelt_repeat_hits_and_a_misspelt_near_miss_does_not() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    // Keyboard slips (a letter transposed, left out, or a neighbouring key):
    // read as the word they slipped from (src/verifier/spelling.rs), so the
    // same question. The shipped adapter alone scored "stirng" 0.015.
    let misspelt = [
        (
            "How do I change the oil in my car?",
            "how do I chnage the oil in my car",
        ),
        (
            "What is the tallest mountain in Africa?",
            "What is the tallest moutain in Africa?",
        ),
        (
            "How do I merge two dictionaries in Python?",
            "how do i merge two dictionaires in python",
        ),
        (
            "How do I convert a string to an integer in Python?",
            "how do i convert a stirng to an integer in python",
        ),
    ];
    for (n, (cached, asked)) in misspelt.iter().enumerate() {
        assert_eq!(
            pair(&gw, n, cached, asked, &[]).await,
            "hit-l2",
            "{asked:?} after {cached:?}"
        );
    }
    // A slip can pull the cosine of a retyped prompt below the prefilter
    // (0.50 here): read all the same, unless the request raised its own
    // cosine floor.
    let (cached, asked) = ("Explain how vaccines work.", "Explain how vacines work.");
    assert_eq!(pair(&gw, 10, cached, asked, &[]).await, "hit-l2");
    let raised = [("x-gateway-semantic-threshold", "0.9")];
    assert_eq!(pair(&gw, 11, cached, asked, &raised).await, "miss");
    // A rewording with slips whose cosine the slips pulled below the
    // prefilter (0.65, 0.52) is judged by the cosine of the aligned texts
    // (0.88, 0.99) and read.
    let reworded = [
        (
            "What is the capital city of Australia?",
            "whats the captial of australia",
        ),
        (
            "How do I improve my credit score?",
            "how can i imporve my credit scroe",
        ),
    ];
    for (n, (cached, asked)) in reworded.iter().enumerate() {
        assert_eq!(
            pair(&gw, 12 + n, cached, asked, &[]).await,
            "hit-l2",
            "{asked:?} after {cached:?}"
        );
    }
    // A slip beside the word that makes them differ changes nothing either.
    let near_misses = [
        (
            "How do I enable dark mode in Chrome?",
            "How do I disable dark mode in Chorme?",
        ),
        (
            "What are the advantages of nuclear power?",
            "What are the disadvantages of nuclaer power?",
        ),
        (
            "How do I say hello in Italian?",
            "How do I say hello in Portugese?",
        ),
        ("Did Apple sue Samsung?", "Did Samsung sue Aple?"),
    ];
    for (n, (cached, asked)) in near_misses.iter().enumerate() {
        assert_eq!(
            pair(&gw, 20 + n, cached, asked, &[]).await,
            "miss",
            "{asked:?} was answered with the answer to {cached:?}"
        );
    }
}

/// A pasted text longer than the verifier's window (~1,000 bytes, ~200
/// tokens: two of them do not fit 256 tokens together).
const POLICY: &str = "Items bought in our stores or on our website can be returned within thirty \
days of delivery. Items must be unused, in their original packaging, and come with the receipt or \
the order confirmation email. Clearance items, gift cards, opened software and personalised \
products cannot be returned. To start a return online, sign in to your account, open Orders, \
choose the item and select Return item; a prepaid shipping label arrives by email. Returns to a \
store are accepted at any location except outlet stores. Once we receive the item we inspect it \
within five business days. Approved returns are refunded to the original payment method; shipping \
charges are not refunded unless the item arrived damaged or was not what you ordered. Exchanges \
for a different size or colour are free of charge and ship as soon as the returned item is \
scanned. Orders placed with a business account follow the terms of that account instead.";

#[tokio::test]
async fn a_question_after_a_long_shared_text_is_read_not_the_text_alone() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let about = |q: &str| format!("Our returns policy:\n\n{POLICY}\n\n{q}");
    // Until stop 37 the verifier read each side's first ~126 tokens — the
    // policy alone — so the questions were never read: nothing long was a
    // hit, the loose repeat below included.
    let cached = about("How do I start a return online?");
    let other = about("Will my shipping costs be refunded?");
    assert_eq!(pair(&gw, 0, &cached, &other, &[]).await, "miss");
    // The same question typed loosely is read as the same question.
    let loose = about("how do i start a return online");
    assert_eq!(pair(&gw, 1, &cached, &loose, &[]).await, "hit-l2");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_l2_verifier_rejections_total{guard=\"verifier\"} 1"),
        "{metrics}"
    );

    // Five questions after the same pasted text, longer than the embedder
    // reads whole (~370 tokens): the loose repeat of the last finds its entry
    // among the three candidates read. With the text's first 254 tokens
    // alone all five had one vector, and the three read were any three.
    let twice = |q: &str| format!("{POLICY}\n\n{POLICY}\n\n{q}");
    let questions = [
        "How do I start a return online?",
        "Will my shipping costs be refunded?",
        "Can I return a gift card?",
        "How long does the inspection take?",
        "Are exchanges free of charge?",
    ];
    for q in questions {
        let asked = question("five questions", &twice(q));
        assert_eq!(ask(&gw, KEY_A, &asked, &[]).await.0, "miss", "{q}");
    }
    let loose = question("five questions", &twice("are exchanges free of charge"));
    assert_eq!(ask(&gw, KEY_A, &loose, &[]).await.0, "hit-l2");

    // A prompt longer than an entry keeps (2,048 bytes) is not L2's: only
    // its exact repeat is answered, from L1, and the skip is counted.
    let long = |q: &str| format!("{POLICY}\n\n{POLICY}\n\n{POLICY}\n\n{q}");
    let system = question("long prompts", &long("How do I start a return online?"));
    assert_eq!(ask(&gw, KEY_A, &system, &[]).await.0, "miss");
    let asked = question("long prompts", &long("how do i start a return online"));
    assert_eq!(ask(&gw, KEY_A, &asked, &[]).await.0, "miss");
    assert_eq!(ask(&gw, KEY_A, &system, &[]).await.0, "hit-l1");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_l2_skipped_total{stage=\"prompt\",reason=\"too_long\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn asking_for_more_precision_gives_fewer_hits() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    config.semantic.min_precision = 0.8;
    let gw = start(config).await;
    let strict = [("x-gateway-semantic-min-precision", "0.999")];
    let (mut lax_hits, mut strict_hits) = (0, 0);
    let all = PARAPHRASES.iter().chain(LOOSER_PARAPHRASES.iter());
    for (n, (cached, asked)) in all.enumerate() {
        if pair(&gw, 2 * n, cached, asked, &[]).await == "hit-l2" {
            lax_hits += 1;
        }
        if pair(&gw, 2 * n + 1, cached, asked, &strict).await == "hit-l2" {
            strict_hits += 1;
        }
    }
    assert!(
        lax_hits > strict_hits,
        "{lax_hits} lax vs {strict_hits} strict"
    );
    // A request cannot go below the configured floor: 0.5 is 0.8 here.
    let floor = [("x-gateway-semantic-min-precision", "0.5")];
    let (cached, asked) = (
        "Did the Romans conquer the Greeks?",
        "Did the Greeks conquer the Romans?",
    );
    assert_eq!(pair(&gw, 50, cached, asked, &floor).await, "miss");
}

/// `gateway_l2_verifier_pairs_total`: candidate pairs the verifier has read.
async fn pairs_read(gw: &TestGateway) -> u64 {
    let metrics = gw.metrics().await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("gateway_l2_verifier_pairs_total "))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

/// The cache label and the answer's text of one request.
async fn answered(gw: &TestGateway, body: &Value) -> (String, String) {
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let label = response.headers()["x-gateway-cache"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (label, text)
}

#[tokio::test]
async fn the_closest_candidate_is_read_first_and_the_others_only_when_it_is_refused() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let system = "verifier reading order";
    let soft = "How long should I boil an egg for a soft yolk?";
    let hard = "How many minutes do I boil an egg to get a hard yolk?";
    for cached in [soft, hard] {
        assert_eq!(
            ask(&gw, KEY_A, &question(system, cached), &[]).await.0,
            "miss"
        );
    }
    // Closer to the soft-yolk entry (cosine about 0.966) than to the
    // hard-yolk one (0.954): the verifier refuses the closest, so the other
    // is read too, and answers.
    let before = pairs_read(&gw).await;
    let asked = question(system, "How long should I boil an egg for a hard yolk?");
    let (label, text) = answered(&gw, &asked).await;
    assert_eq!(label, "hit-l2");
    assert!(text.contains(hard), "{text}");
    assert_eq!(pairs_read(&gw).await - before, 2);
    // The hard-yolk entry is the closest (0.990, the soft one 0.934, above
    // the prefilter) and the verifier is sure of it: one pair read.
    let before = pairs_read(&gw).await;
    let asked = question(
        system,
        "How many minutes should I boil an egg to get a hard yolk?",
    );
    let (label, text) = answered(&gw, &asked).await;
    assert_eq!(label, "hit-l2");
    assert!(text.contains(hard), "{text}");
    assert_eq!(pairs_read(&gw).await - before, 1);
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn a_broken_verifier_stops_the_start_with_a_clear_error_and_rules_still_run() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("adapter.safetensors"), b"not an adapter").unwrap();
    std::fs::write(
        dir.path().join("verifier.json"),
        include_bytes!("../../assets/verifier/verifier.json"),
    )
    .unwrap();
    let mut config = config_for(&mock);
    with_l2(&mut config);
    config.semantic.verifier_dir = Some(dir.path().to_path_buf());
    let gw = start(config.clone()).await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), gw.handle)
        .await
        .expect("the gateway stops at once")
        .unwrap();
    match stopped {
        Err(e @ RunError::Verifier(_)) => {
            let message = e.to_string();
            assert!(message.contains("SHA-256"), "{message}");
            assert!(message.contains("semantic.verifier"), "{message}");
        }
        other => panic!("expected a verifier error, got {other:?}"),
    }
    std::fs::remove_file(dir.path().join("adapter.safetensors")).unwrap();
    let gw = start(config.clone()).await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), gw.handle).await;
    assert!(matches!(stopped, Ok(Ok(Err(RunError::Verifier(_))))));
    config.semantic.verifier = VerifierMode::Rules;
    let gw = start(config).await;
    let (cached, asked) = ("How do I reset my password?", "how can I reset my password");
    assert_eq!(pair(&gw, 0, cached, asked, &[]).await, "hit-l2");
}

#[tokio::test]
async fn sampled_hits_are_audited_upstream_in_the_background() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    config.semantic.audit_sample = 1.0;
    let gw = start(config).await;
    let (cached, asked) = ("How do I reset my password?", "how can I reset my password");
    assert_eq!(pair(&gw, 0, cached, asked, &[]).await, "hit-l2");
    // The client was answered from the cache; the audit asks upstream after.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let audited = loop {
        let metrics = gw.metrics().await;
        if let Some(line) = metrics
            .lines()
            .find(|l| l.starts_with("gateway_l2_audit_total{"))
        {
            break line.to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no audit: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(mock.requests(), 2, "the miss and the audit");
    // The mock answers every prompt with text of its own: the audit compares
    // the fresh answer with the cached one and says which it was.
    assert!(
        audited.contains("result=\"agree\"") || audited.contains("result=\"differ\""),
        "{audited}"
    );
    let last: Value = mock.bodies().last().cloned().unwrap();
    assert_eq!(last["messages"][1]["content"], asked);
    assert!(gw.metrics().await.contains("gateway_l2_audit_tokens_total"));
}
