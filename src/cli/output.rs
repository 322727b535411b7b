//! Printing: aligned tables, colour only on a terminal (and never with `NO_COLOR`), utilization
//! bars, address counts, and progress on a terminal's stderr for long operations.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ipam::{NetmaskRule, Tags};

/// Where a command prints: stdout, as tables (coloured on a terminal) or JSON.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
    /// Colour: stdout is a terminal and `NO_COLOR` is unset or empty.
    pub color: bool,
    /// Progress: stderr is a terminal.
    pub progress: bool,
}

impl Output {
    /// The output for this process.
    pub fn new(json: bool) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            color: !json && !no_color && std::io::stdout().is_terminal(),
            progress: std::io::stderr().is_terminal(),
        }
    }

    /// Prints text (a newline is added when missing).
    pub fn print(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // a closed pipe (`ipam audit | head`) is not an error worth a panic
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// Prints a JSON value, pretty.
    pub fn print_json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        self.print(&text);
    }

    /// Prints a JSON object whose last field `key` is a long list, one element a line, without
    /// building the whole document in memory (a pool may hold a million allocations).
    pub fn print_json_list<T>(
        &self,
        head: &serde_json::Value,
        key: &str,
        items: &[T],
        item: impl Fn(&T) -> serde_json::Value,
    ) {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let mut text = String::from("{\n");
        if let Some(fields) = head.as_object() {
            for (name, value) in fields {
                text.push_str(&format!(
                    "  {}: {value},\n",
                    serde_json::Value::from(name.as_str())
                ));
            }
        }
        text.push_str(&format!("  {}: [", serde_json::Value::from(key)));
        let _ = stdout.write_all(text.as_bytes());
        for (i, element) in items.iter().enumerate() {
            let separator = if i == 0 { "\n    " } else { ",\n    " };
            let line = format!("{separator}{}", item(element));
            if stdout.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
        let close = if items.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        };
        let _ = stdout.write_all(close.as_bytes());
        let _ = stdout.flush();
    }

    /// A style applied only when colour is on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color && style != Style::Plain {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }
}

/// Text styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No colour.
    Plain,
    /// Headers, names.
    Bold,
    /// Ids and secondary text.
    Dim,
    /// Utilization below 70 %, "ok".
    Green,
    /// Utilization from 70 %.
    Yellow,
    /// Utilization from 90 %, problems.
    Red,
    /// CIDRs.
    Cyan,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "0",
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
            Style::Cyan => "36",
        }
    }

    /// The colour of a utilization percentage.
    pub fn of_percent(percent: f64) -> Style {
        if percent >= 90.0 {
            Style::Red
        } else if percent >= 70.0 {
            Style::Yellow
        } else {
            Style::Green
        }
    }
}

/// A table cell: text and its style.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell::styled(text, Style::Plain)
    }

    /// A styled cell.
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }

    /// The same cell with `prefix` before its text, in its style.
    pub fn prefixed(&self, prefix: &str) -> Cell {
        Cell::styled(format!("{prefix}{}", self.text), self.style)
    }
}

/// An aligned table; columns named in `headers`, numbers right-aligned.
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these columns; a header starting with `>` is right-aligned (the `>` is not
    /// shown).
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.trim_start_matches('>')).collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// The table as text: a header line and aligned rows, no trailing spaces.
    pub fn render(&self, out: &Output) -> String {
        let widths = self.widths(self.rows.iter().map(Vec::as_slice));
        let mut text = self.line(&widths, &self.header(), out);
        for row in &self.rows {
            text.push_str(&self.line(&widths, row, out));
        }
        text
    }

    /// Prints the header and a row per item, the rows made on demand twice (to measure the
    /// columns, then to print): a million rows need no memory of their own.
    pub fn print_rows<T>(&self, out: &Output, items: &[T], cells: impl Fn(&T) -> Vec<Cell>) {
        let mut widths = self.widths(std::iter::empty());
        for item in items {
            for (i, cell) in cells(item).iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(width(&cell.text));
            }
        }
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        // a closed pipe (`ipam allocations … | head`) ends the output, it is not an error
        let _ = stdout.write_all(self.line(&widths, &self.header(), out).as_bytes());
        for item in items {
            if stdout
                .write_all(self.line(&widths, &cells(item), out).as_bytes())
                .is_err()
            {
                return;
            }
        }
        let _ = stdout.flush();
    }

    fn header(&self) -> Vec<Cell> {
        self.headers
            .iter()
            .map(|h| Cell::styled(*h, Style::Bold))
            .collect()
    }

    /// Column widths: the widest of the header and these rows.
    fn widths<'r>(&self, rows: impl Iterator<Item = &'r [Cell]>) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(width(&cell.text));
            }
        }
        widths
    }

    /// One aligned line.
    fn line(&self, widths: &[usize], row: &[Cell], out: &Output) -> String {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i);
            let cell_text = cell.map_or("", |c| c.text.as_str());
            let pad = " ".repeat(w.saturating_sub(width(cell_text)));
            let painted = out.paint(cell.map_or(Style::Plain, |c| c.style), cell_text);
            if i > 0 {
                line.push_str("  ");
            }
            if self.right[i] {
                line.push_str(&pad);
                line.push_str(&painted);
            } else {
                line.push_str(&painted);
                line.push_str(&pad);
            }
        }
        let mut line = line.trim_end().to_string();
        line.push('\n');
        line
    }
}

/// Label / value lines, the labels aligned.
pub fn fields(out: &Output, pairs: &[(&str, String)]) -> String {
    let label_width = pairs.iter().map(|(l, _)| width(l)).max().unwrap_or(0);
    let mut text = String::new();
    for (label, value) in pairs {
        let pad = " ".repeat(label_width - width(label));
        text.push_str(&format!(
            "{}{pad}  {value}\n",
            out.paint(Style::Bold, label)
        ));
    }
    text
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// A utilization bar of ten cells.
pub fn bar(percent: f64) -> String {
    let filled = ((percent / 10.0).round() as usize).min(10);
    // a little use shows as one cell, so that it is not mistaken for none
    let filled = if percent > 0.0 && filled == 0 {
        1
    } else {
        filled
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(10 - filled))
}

/// A percentage with one decimal (`12.5%`).
pub fn percent(value: f64) -> String {
    format!("{value:.1}%")
}

/// The bar and percentage cells of a utilization.
pub fn utilization_cells(value: f64) -> [Cell; 2] {
    let style = Style::of_percent(value);
    [Cell::styled(bar(value), style), Cell::plain(percent(value))]
}

/// An address count: exact up to 10^12; IPv6-sized counts in /64 networks (`513 × /64`);
/// else as a power of two or in scientific notation.
pub fn count(n: u128) -> String {
    const SLASH_64: u128 = 1 << 64;
    if n < 1_000_000_000_000 {
        n.to_string()
    } else if n.is_multiple_of(SLASH_64) && n >> 64 < 1_000_000_000_000 {
        format!("{} × /64", n >> 64)
    } else if n.is_power_of_two() {
        format!("2^{}", n.trailing_zeros())
    } else {
        format!("{:.3e}", n as f64)
    }
}

/// `key=value, …` or `-`.
pub fn tags(tags: &Tags) -> String {
    if tags.is_empty() {
        return "-".to_string();
    }
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `/16–/24 default /20`, or `-` without guardrails.
pub fn guardrails(rule: &NetmaskRule) -> String {
    let mut parts = Vec::new();
    match (rule.min, rule.max) {
        (None, None) => {}
        (min, max) => parts.push(format!(
            "/{}–/{}",
            min.map_or("0".to_string(), |m| m.to_string()),
            max.map_or("max".to_string(), |m| m.to_string())
        )),
    }
    if let Some(default) = rule.default {
        parts.push(format!("default /{default}"));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// How a table names a plan-time reservation's hold: `"web" until …`, or `"web", expired …`
/// when its time has passed (its space is held until a plan or allocation in the pool frees it).
pub fn reservation_hold(reservation: &crate::ipam::Reservation) -> String {
    if reservation.expired {
        format!(
            "{:?}, expired {} (held until swept)",
            reservation.name, reservation.expires_at
        )
    } else {
        format!("{:?} until {}", reservation.name, reservation.expires_at)
    }
}

/// `text`, or `-` when empty.
pub fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

/// An elapsed-time indicator on a terminal's stderr while a long operation runs; nothing
/// when stderr is not a terminal.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts showing `label` and the elapsed time, when `out.progress`.
    pub fn start(out: &Output, label: &str) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = out.progress.then(|| {
            let (stop, label) = (Arc::clone(&stop), label.to_string());
            std::thread::spawn(move || {
                let started = Instant::now();
                // quiet for the first half second: quick runs print nothing
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let elapsed = started.elapsed().as_secs_f64();
                    if elapsed >= 0.5 && !stop.load(Ordering::Relaxed) {
                        eprint!("\r{label} … {elapsed:.1} s");
                    }
                }
                eprint!("\r\x1b[K");
            })
        });
        Progress { stop, thread }
    }

    /// Shows a fraction done (overwriting the line), when on a terminal.
    pub fn fraction(out: &Output, label: &str, done: u64, total: u64) {
        if out.progress && total > 0 {
            eprint!(
                "\r{label} {:.0}% ({done} / {total})",
                done as f64 / total as f64 * 100.0
            );
            if done >= total {
                eprint!("\r\x1b[K");
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
