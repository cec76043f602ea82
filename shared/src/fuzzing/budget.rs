//! Bounded work.

use super::*;

/// Counts the bytes each thread allocates, so a check can bound the work of
/// a call deterministically (a quadratic copy shows up as quadratic bytes,
/// whatever the machine's load). Install it as the `#[global_allocator]` of
/// a fuzz target or test binary; without it only time is bounded.
pub struct CountingAlloc;

pub(super) static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

pub(super) fn count(bytes: usize) {
    // `try_with`: no counting while the thread is being torn down.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().wrapping_add(bytes as u64)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter is const-initialized and has no destructor, so
// touching it never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        if !COUNTING.load(Ordering::Relaxed) {
            COUNTING.store(true, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A move may copy the whole block: count it as new work.
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes allocated so far by this thread, when [`CountingAlloc`] is installed.
pub(super) fn allocated() -> Option<u64> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| ALLOCATED.try_with(Cell::get).ok())
        .flatten()
}

/// `FUZZ_BUDGET_FACTOR` (default 1) scales both budgets, e.g. for a build
/// with AddressSanitizer or a much slower machine.
pub(super) fn budget_factor() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| {
        std::env::var("FUZZ_BUDGET_FACTOR")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(1.0)
    })
}

/// Nanoseconds per byte that parsing a JSON document takes in this build on
/// this machine (the fastest of a few runs). Budgets are multiples of it, so
/// they follow the build (debug, release, instrumented) and the machine.
pub(super) fn reference_ns_per_byte() -> f64 {
    static NS: OnceLock<f64> = OnceLock::new();
    *NS.get_or_init(|| {
        let mut doc = String::from("[");
        for i in 0..1500 {
            doc.push_str(&format!(
                "{{\"id\":\"m_{i:06}\",\"text\":\"caf\\u00e9 <b>&amp;</b> \\\"quoted\\\" line\\nnext {i}\",\
                 \"n\":{i}.5,\"ok\":true,\"tags\":[\"a\",\"b\",null]}},"
            ));
        }
        doc.push_str("{}]");
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = cpu_time();
            let value: Result<serde_json::Value, _> = serde_json::from_str(&doc);
            drop(std::hint::black_box(value));
            best = best.min((cpu_time() - start).as_nanos() as f64 / doc.len() as f64);
        }
        best.max(0.1)
    })
}

/// One-time costs kept out of every budget: the phone metadata (hundreds
/// of MB allocated on first use), the SNS fixtures, the time reference.
pub(super) fn warm_up() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        reference_ns_per_byte();
        for (number, region) in [("+447700900123", None), ("0151 2345678", Some("DE"))] {
            drop(Identity::phone(number, region));
        }
        sns_fixture_signatures();
    });
}

/// CPU time this thread has used. Budgets are on CPU time, not wall time:
/// other processes on a busy machine stretch wall time (a 1.8 KB phone
/// number "took" 69 ms of a 63 ms budget at a load of 9 on 2 cores, and
/// 2 ms on its own), but not the work the call itself does.
fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // exists on every Linux the fuzzers and tests run on.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        now.tv_sec.max(0) as u64,
        now.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// How long a call on `len` bytes may take.
pub fn time_budget(len: usize) -> Duration {
    let ns = TIME_FACTOR
        * budget_factor()
        * reference_ns_per_byte()
        * (len.saturating_add(TIME_FIXED_BYTES)) as f64;
    Duration::from_nanos(ns.min(1e15) as u64).max(MIN_TIME_BUDGET)
}

/// How many bytes a call on `len` bytes may allocate.
pub fn alloc_budget(len: usize) -> u64 {
    let bytes = (ALLOC_BYTES_PER_INPUT_BYTE as f64 * len as f64 + ALLOC_BASE_BYTES as f64)
        * budget_factor();
    bytes.min(u64::MAX as f64) as u64
}

/// Runs `f` on an input of `len` bytes and panics when it allocates more
/// than [`alloc_budget`] or takes more CPU time than [`time_budget`]. A
/// call over its time is run twice more and judged by its fastest run
/// (caches, page faults); a hang is caught by libFuzzer's `-timeout`.
pub fn within_budget<T>(what: &str, len: usize, mut f: impl FnMut() -> T) -> T {
    let before = allocated();
    let start = cpu_time();
    let out = f();
    let mut elapsed = cpu_time().saturating_sub(start);
    if let (Some(before), Some(after)) = (before, allocated()) {
        let bytes = after.wrapping_sub(before);
        let budget = alloc_budget(len);
        assert!(
            bytes <= budget,
            "{what}: allocated {bytes} bytes for a {len}-byte input (budget {budget}): \
             work is not linear in the input"
        );
    }
    let budget = time_budget(len);
    for _ in 0..2 {
        if elapsed <= budget {
            break;
        }
        let start = cpu_time();
        drop(f());
        elapsed = elapsed.min(cpu_time().saturating_sub(start));
    }
    assert!(
        elapsed <= budget,
        "{what}: took {elapsed:?} for a {len}-byte input (budget {budget:?}): \
         time is not linear in the input"
    );
    out
}

/// The input to a text-processing check: `data` itself, or, when it starts
/// with [`AMPLIFY_MARKER`], its tail repeated (the next two bytes, little
/// endian, say how often) up to [`MAX_EXPANDED_BYTES`]. Superlinear work
/// hides in small inputs; repeating a short pattern (`<br><p>`) brings it
/// out while the fuzzer mutates only the pattern.
pub fn expand(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    expand_up_to(data, MAX_EXPANDED_BYTES)
}

/// [`expand`] to at most `max` bytes.
pub(super) fn expand_up_to(data: &[u8], max: usize) -> std::borrow::Cow<'_, [u8]> {
    match data {
        [AMPLIFY_MARKER, lo, hi, pattern @ ..] if !pattern.is_empty() => {
            let times = usize::from(u16::from_le_bytes([*lo, *hi]))
                .min(max / pattern.len())
                .max(1);
            std::borrow::Cow::Owned(pattern.repeat(times))
        }
        _ => std::borrow::Cow::Borrowed(data),
    }
}
