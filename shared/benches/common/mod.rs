//! What the size benches share: best-of timing and one printed line per case.

use std::time::{Duration, Instant};

/// Best of a few runs (at least one, and at most about `budget` in all).
pub fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    let started = Instant::now();
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        if started.elapsed() > budget {
            break;
        }
    }
    best
}

pub fn line(name: &str, size: usize, took: Duration) {
    let mb_s = size as f64 / (1 << 20) as f64 / took.as_secs_f64();
    println!(
        "{name:<28} {:>5} KiB {:>10.2} ms {:>9.1} MiB/s",
        size >> 10,
        took.as_secs_f64() * 1e3,
        mb_s
    );
}

/// How long each case may take: short when `cargo test` runs the bench as a
/// smoke test (`cargo bench` passes --bench).
pub fn budget() -> Duration {
    let quick = !std::env::args().any(|a| a == "--bench") && cfg!(debug_assertions);
    Duration::from_millis(if quick { 50 } else { 500 })
}
