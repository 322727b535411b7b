//! hclog-style JSON log lines on stderr, which go-plugin (inside Terraform) parses and re-logs
//! at the right level, so `TF_LOG=DEBUG` (or `TF_LOG_PROVIDER`) shows them.

use std::fmt::Display;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log levels, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal events.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
    /// Nothing is logged.
    Off,
}

impl Level {
    /// hclog's name of the level.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Off => "off",
        }
    }

    /// Parses `TF_LOG`-style values (case-insensitive); `JSON` means trace, as in Terraform.
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "trace" | "json" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            "off" => Some(Level::Off),
            _ => None,
        }
    }
}

struct Logger {
    module: String,
    level: Level,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the module name (e.g. `provider.ipam`) and the level from `TF_LOG_PROVIDER`, else
/// `TF_LOG`, else info. Later calls have no effect.
pub fn init(module: &str) {
    let level = ["TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find_map(|value| Level::parse(&value))
        .unwrap_or(Level::Info);
    let _ = LOGGER.set(Logger {
        module: module.to_string(),
        level,
    });
}

/// Whether lines at `level` are written.
pub fn enabled(level: Level) -> bool {
    let threshold = LOGGER.get().map_or(Level::Info, |l| l.level);
    level != Level::Off && level >= threshold
}

/// Writes one line at `level`.
pub fn log(level: Level, message: impl Display) {
    log_fields(level, message, &[]);
}

/// Writes one line at `level` with key/value fields, which Terraform shows after the message
/// (`tf_rpc=ReadResource database=/srv/ipam.db`).
pub fn log_fields(level: Level, message: impl Display, fields: &[(&str, String)]) {
    if !enabled(level) {
        return;
    }
    let module = LOGGER.get().map_or("provider", |l| l.module.as_str());
    let line = format_line_with(
        level,
        module,
        &message.to_string(),
        fields,
        SystemTime::now(),
    );
    // One write per line so concurrent lines never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs at trace level.
pub fn trace(message: impl Display) {
    log(Level::Trace, message);
}

/// Logs at debug level.
pub fn debug(message: impl Display) {
    log(Level::Debug, message);
}

/// Logs at info level.
pub fn info(message: impl Display) {
    log(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: impl Display) {
    log(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: impl Display) {
    log(Level::Error, message);
}

/// One hclog JSON line (with the trailing newline).
pub fn format_line(level: Level, module: &str, message: &str, time: SystemTime) -> String {
    format_line_with(level, module, message, &[], time)
}

/// One hclog JSON line with key/value fields (with the trailing newline).
pub fn format_line_with(
    level: Level,
    module: &str,
    message: &str,
    fields: &[(&str, String)],
    time: SystemTime,
) -> String {
    let mut line = serde_json::Map::new();
    line.insert("@level".into(), level.name().into());
    line.insert("@message".into(), message.into());
    line.insert("@module".into(), module.into());
    line.insert("@timestamp".into(), rfc3339_micros(time).into());
    for (key, value) in fields {
        line.insert((*key).into(), value.as_str().into());
    }
    format!("{}\n", serde_json::Value::Object(line))
}

/// `2026-11-23T21:22:37.123456Z`.
pub fn rfc3339_micros(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since.subsec_micros()
    )
}

/// Replaces Rust's panic message (and any backtrace, whatever `RUST_BACKTRACE` says) with one
/// hclog error line; the handler that panicked turns the panic into a diagnostic.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error(format!("panic: {}{location}", panic_text(info.payload())));
    }));
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_are_hclog_json() {
        let time = UNIX_EPOCH + Duration::from_micros(1_795_468_957_123_456);
        let line = format_line(Level::Debug, "provider.ipam", "said \"hi\"", time);
        assert_eq!(
            line,
            "{\"@level\":\"debug\",\"@message\":\"said \\\"hi\\\"\",\"@module\":\"provider.ipam\",\"@timestamp\":\"2026-11-23T21:22:37.123456Z\"}\n"
        );
    }

    #[test]
    fn fields_follow_the_message() {
        let line = format_line_with(
            Level::Debug,
            "provider.ipam",
            "ReadResource ipam: ok",
            &[
                ("tf_rpc", "ReadResource".into()),
                ("database", "/srv/ipam.db".into()),
            ],
            UNIX_EPOCH,
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["tf_rpc"], "ReadResource");
        assert_eq!(parsed["database"], "/srv/ipam.db");
        assert_eq!(parsed["@message"], "ReadResource ipam: ok");
    }

    #[test]
    fn dates_are_right_across_leap_years() {
        assert_eq!(rfc3339_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn levels_parse_like_tf_log() {
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse("json"), Some(Level::Trace));
        assert_eq!(Level::parse("verbose"), None);
    }
}
