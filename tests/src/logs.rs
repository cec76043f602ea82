//! What the functions log during a test, for checks that something (a
//! secret, a customer's personal data) never reaches a log.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Every log line written since `CapturedLogs::install`.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Makes the capture the process's global subscriber, as JSON lines.
    /// A global subscriber can be set once: one test per test binary may
    /// call this.
    pub fn install() -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            // The most verbose level the template allows, through the functions' own filter.
            .with_env_filter(shared::telemetry::filter("TRACE"))
            .with_writer(move || writer.clone())
            .init();
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
