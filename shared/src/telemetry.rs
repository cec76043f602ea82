//! Structured logs. JSON in Lambda (the template's LoggingConfig sets
//! AWS_LAMBDA_LOG_FORMAT=JSON), human-readable locally.

use tracing_subscriber::EnvFilter;

/// Our crates: the configured level applies to them.
const OURS: &[&str] = &["shared", "api", "ingest", "normalize", "devtools"];

/// The filter for a Lambda log level (`ApplicationLogLevel`). Other crates
/// (the AWS SDK, hyper, rustls, the Lambda runtime) never log below INFO:
/// at DEBUG and TRACE they print raw requests and responses, and those carry
/// connection secrets and customers' messages.
pub fn filter(level: &str) -> EnvFilter {
    let ours = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" => "warn",
        "error" | "fatal" => "error",
        _ => "info",
    };
    let others = match ours {
        "trace" | "debug" => "info",
        other => other,
    };
    let directives: Vec<String> = std::iter::once(others.to_string())
        .chain(OURS.iter().map(|krate| format!("{krate}={ours}")))
        .collect();
    EnvFilter::new(directives.join(","))
}

/// What a panic report may say: the message only when it is a literal
/// of our code (`panic!("…")`). Formatted messages can quote the data being
/// handled (a slice of a customer's message names the text), so they are
/// withheld; the location says where to look.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &'static str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .unwrap_or("(message withheld: it may quote personal data)")
}

/// Panics are reported through the log, without what they were handling;
/// the default hook would print the whole message to stderr (the function's log).
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, message = panic_message(info.payload()), "panicked");
    }));
}

pub fn init() {
    report_panics();
    // In Lambda the template's log level; locally RUST_LOG if the developer set one.
    let filter = match std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        Ok(level) => filter(&level),
        Err(_) => EnvFilter::try_from_default_env().unwrap_or_else(|_| filter("info")),
    };
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, the local gateway) keeps the first subscriber.
    let _ = if json {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directives(level: &str) -> Vec<String> {
        let mut all: Vec<String> = filter(level)
            .to_string()
            .split(',')
            .map(str::to_string)
            .collect();
        all.sort();
        all
    }

    #[test]
    fn a_panic_report_withholds_formatted_messages() {
        let quoting = std::panic::catch_unwind(|| {
            let text = String::from("Zoë's private message");
            let _ = &text[..3];
        })
        .unwrap_err();
        assert!(!panic_message(quoting.as_ref()).contains("private"));
        let literal = std::panic::catch_unwind(|| panic!("a literal of our code")).unwrap_err();
        assert_eq!(panic_message(literal.as_ref()), "a literal of our code");
    }

    #[test]
    fn the_sdk_stays_at_info_whatever_the_level() {
        assert_eq!(
            directives("TRACE"),
            [
                "api=trace",
                "devtools=trace",
                "info",
                "ingest=trace",
                "normalize=trace",
                "shared=trace"
            ]
        );
        assert!(directives("WARN").contains(&"warn".to_string()));
        assert!(directives("FATAL").contains(&"shared=error".to_string()));
        assert!(directives("nonsense").contains(&"info".to_string()));
        assert!(directives("nonsense").contains(&"shared=info".to_string()));
    }
}
