//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`)
//! through the invariant checks its fuzz target runs (`shared::fuzzing`),
//! on stable and without libFuzzer, so CI keeps the corpora passing: a
//! change that breaks an invariant on an input the fuzzer once found fails
//! here. No emulator is needed. See docs/fuzzing.md.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use shared::fuzzing;

// The allocation budgets are checked here too, as in the fuzz targets.
#[global_allocator]
static ALLOC: fuzzing::CountingAlloc = fuzzing::CountingAlloc;

/// What a fuzz target runs on one input; panics when an invariant breaks.
type Check = fn(&[u8]);

/// Every fuzz target and its check.
const TARGETS: &[(&str, Check)] = &[
    ("chat", fuzzing::check_chat),
    ("sns", fuzzing::check_sns),
    ("signatures", fuzzing::check_signatures),
    ("identity", fuzzing::check_identity),
    ("postmark", fuzzing::check_postmark),
    ("ses_mime", fuzzing::check_ses_mime),
    ("webhooks", fuzzing::check_webhooks),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Runs `target`'s check on every file of its corpus and on the inputs of
/// the findings fixed since (`fuzz/regressions/<target>/`, kept apart so
/// that minimizing the corpus cannot drop them).
fn replay(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no check for {target}"));
    let corpus = fuzz_dir().join("corpus").join(target);
    assert!(
        !names_in(&corpus).is_empty(),
        "{} is empty",
        corpus.display()
    );
    let mut dirs = vec![corpus];
    let regressions = fuzz_dir().join("regressions").join(target);
    if regressions.is_dir() {
        dirs.push(regressions);
    }
    let failures: Vec<String> = dirs
        .iter()
        .flat_map(|dir| failures_in(dir, *check))
        .collect();
    assert!(
        failures.is_empty(),
        "{} {target} input(s) break an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `check` on every file in `dir`: each file that fails (all of them,
/// not just the first), and why.
fn failures_in(dir: &Path, check: Check) -> Vec<String> {
    names_in(dir)
        .iter()
        .filter_map(|name| {
            let data = fs::read(dir.join(name)).unwrap();
            let err = panic::catch_unwind(AssertUnwindSafe(|| check(&data))).err()?;
            let reason = err
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("{}: {reason}", dir.join(name).display()))
        })
        .collect()
}

#[test]
fn chat_corpus_passes() {
    replay("chat");
}

#[test]
fn sns_corpus_passes() {
    replay("sns");
}

#[test]
fn signatures_corpus_passes() {
    replay("signatures");
}

#[test]
fn identity_corpus_passes() {
    replay("identity");
}

#[test]
fn postmark_corpus_passes() {
    replay("postmark");
}

#[test]
fn ses_mime_corpus_passes() {
    replay("ses_mime");
}

#[test]
fn webhooks_corpus_passes() {
    replay("webhooks");
}

/// A target added to fuzz/ without a check here (or a corpus) would
/// otherwise go unreplayed.
#[test]
fn every_fuzz_target_has_a_check_and_a_corpus() {
    let mut targets: Vec<String> = names_in(&fuzz_dir().join("fuzz_targets"))
        .into_iter()
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
        .collect();
    targets.sort();
    let mut checked: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    checked.sort();
    assert_eq!(targets, checked, "fuzz/fuzz_targets vs this test's TARGETS");
    assert_eq!(
        names_in(&fuzz_dir().join("corpus")),
        checked,
        "fuzz/corpus has one directory per target"
    );
}

/// The replay is not vacuous: a file that breaks its check is reported,
/// by name and reason, and the others are not.
#[test]
fn a_breaking_file_is_reported_by_name() {
    let dir = std::env::temp_dir().join(format!("fuzz_corpus_{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("good"), "+44 7700 900123").unwrap();
    fs::write(dir.join("bad"), "a#b").unwrap();
    let failures = failures_in(&dir, |data| {
        fuzzing::check_no_separator("id", &String::from_utf8_lossy(data));
    });
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].ends_with("bad: id contains the key separator '#': \"a#b\""),
        "{failures:?}"
    );
}
