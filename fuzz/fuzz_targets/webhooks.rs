#![no_main]

#[global_allocator]
static ALLOC: shared::fuzzing::CountingAlloc = shared::fuzzing::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::check_webhooks(data));
