//! `ipam audit`: the audit history, newest last; `--follow` streams new events as they commit.

use std::time::Duration;

use serde_json::json;

use super::args::{Parsed, Spec};
use super::output::{Cell, Style, Table};
use super::{json as j, Context, Failure, Outcome};
use crate::ipam::AuditEvent;
use crate::store::{days_from_civil, now_millis, AuditFilter};

/// `ipam audit`.
pub const SPEC: Spec = Spec {
    name: "audit",
    usage: "audit [--since TIME] [--pool ID] [--actor NAME] [--action A] [--limit N] [--follow]",
    summary: "the audit history, newest last; --follow streams new events",
    positional: (0, 0),
    options: &[
        (
            "since",
            true,
            "events at or after TIME: 2026-11-24, 2026-11-24T10:00:00Z, or 30m, 2h, 7d ago",
        ),
        (
            "pool",
            true,
            "events about this pool, its CIDRs and its allocations",
        ),
        ("actor", true, "events by this actor"),
        (
            "action",
            true,
            "events of this action: allocate, release, provision, deprovision, create_pool, …",
        ),
        ("limit", true, "at most N events, the newest (default 100)"),
        (
            "follow",
            false,
            "keep running and print new events as they commit (JSON Lines with --json)",
        ),
    ],
    details:
        "Without --follow, --json prints {\"events\": [...]}; with it, one event object per line.",
};

const DEFAULT_LIMIT: usize = 100;
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// Runs `ipam audit`.
pub fn run(ctx: &Context, args: &Parsed) -> Result<Outcome, Failure> {
    let limit = match args.value("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                SPEC.misuse(format!("--limit {text:?} is not a positive whole number"))
            })?,
    };
    let since_millis = args
        .value("since")
        .map(|text| {
            parse_time(text, now_millis()).ok_or_else(|| {
                SPEC.misuse(format!(
                    "--since {text:?} is not a time: give 2026-11-24, 2026-11-24T10:00:00Z, or a duration ago such as 30m, 2h, 7d"
                ))
            })
        })
        .transpose()?;
    if let Some(pool) = args.value("pool") {
        if super::kind_of(pool) != Some(crate::ipam::ObjectKind::Pool) {
            return Err(SPEC.misuse(format!("--pool {pool:?} is not a pool id (ipam-pool-…)")));
        }
    }
    let mut filter = AuditFilter {
        after_sequence: 0,
        since_millis,
        pool_id: args.value("pool").map(str::to_string),
        object_id: None,
        actor: args.value("actor").map(str::to_string),
        action: args.value("action").map(str::to_string),
        limit,
    };
    let events = ctx.store.audit_query(&filter)?;
    let follow = args.flag("follow");
    if ctx.out.json && !follow {
        ctx.out.print_json(&json!({
            "events": events.iter().map(j::event).collect::<Vec<_>>()
        }));
        return Ok(Outcome::Ok);
    }
    print_events(ctx, &events, true);
    if !follow {
        return Ok(Outcome::Ok);
    }
    // follow: everything after the last event seen, as it commits
    filter.limit = usize::MAX;
    filter.after_sequence = events
        .last()
        .map_or_else(
            || {
                let newest = ctx.store.audit_query(&AuditFilter {
                    limit: 1,
                    ..AuditFilter::default()
                });
                newest.ok().and_then(|e| e.last().map(|e| e.sequence))
            },
            |e| Some(e.sequence),
        )
        .unwrap_or(0);
    let mut header = events.is_empty();
    loop {
        std::thread::sleep(FOLLOW_INTERVAL);
        let new = ctx.store.audit_query(&filter)?;
        if let Some(last) = new.last() {
            filter.after_sequence = last.sequence;
            print_events(ctx, &new, header);
            header = false;
        }
    }
}

fn print_events(ctx: &Context, events: &[AuditEvent], header: bool) {
    if ctx.out.json {
        for event in events {
            ctx.out.print(&j::event(event).to_string());
        }
        return;
    }
    if events.is_empty() {
        if header {
            ctx.out.print("no audit events match");
        }
        return;
    }
    let text = events_table(events).render(&ctx.out);
    let text = if header {
        text.as_str()
    } else {
        text.split_once('\n').map_or("", |(_, rows)| rows)
    };
    ctx.out.print(text);
}

/// Audit events as a table.
pub fn events_table(events: &[AuditEvent]) -> Table {
    let mut table = Table::new(&[">SEQ", "AT", "ACTOR", "ACTION", "OBJECT", "CIDR", "DETAILS"]);
    for e in events {
        table.row(vec![
            Cell::plain(e.sequence.to_string()),
            Cell::plain(&e.at),
            Cell::plain(&e.actor),
            Cell::styled(&e.action, Style::Bold),
            Cell::plain(&e.object_id),
            Cell::styled(
                e.cidr.map_or("-".to_string(), |c| c.to_string()),
                Style::Cyan,
            ),
            Cell::styled(&e.details, Style::Dim),
        ]);
    }
    table
}

/// A time as Unix milliseconds: `YYYY-MM-DD` (midnight UTC), RFC 3339 (`…T10:00:00Z`,
/// `…T10:00:00.5+02:00`, `…T10:00Z`), or a duration before `now` (`90s`, `30m`, `2h`, `7d`).
pub fn parse_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !number.is_empty()
        && number.len() + 1 == text.len()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        let unit = text.chars().last()?;
        let amount: i64 = number.parse().ok()?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        return Some(now - amount.checked_mul(seconds * 1000)?);
    }
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts
        .next()?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let day: u32 = parts
        .next()?
        .parse()
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    let mut millis = days_from_civil(year, i64::from(month), i64::from(day)) * 86_400_000;
    if let Some(time) = time {
        let (clock, offset_minutes) = split_offset(time)?;
        let mut fields = clock.splitn(3, ':');
        let hour: i64 = fields.next()?.parse().ok().filter(|h| *h < 24)?;
        let minute: i64 = fields.next()?.parse().ok().filter(|m| *m < 60)?;
        let second: f64 = match fields.next() {
            Some(s) => s.parse().ok().filter(|s| (0.0..61.0).contains(s))?,
            None => 0.0,
        };
        millis += hour * 3_600_000 + minute * 60_000 + (second * 1000.0).round() as i64;
        millis -= offset_minutes * 60_000;
    }
    Some(millis)
}

/// `10:00:00Z` → (`10:00:00`, 0); `10:00+02:00` → (`10:00`, 120). A time needs a zone.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let hours: i64 = hours.parse().ok()?;
    let minutes: i64 = minutes.parse().ok()?;
    Some((clock, sign * (hours * 60 + minutes)))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_dates_rfc3339_or_durations_ago() {
        assert_eq!(parse_time("1970-01-01", 0), Some(0));
        assert_eq!(parse_time("2000-03-01", 0), Some(951_868_800_000));
        assert_eq!(
            parse_time("2026-11-24T10:00:00Z", 0),
            Some(1_795_514_400_000)
        );
        assert_eq!(
            parse_time("2026-11-24T12:00:00.250+02:00", 0),
            Some(1_795_514_400_250)
        );
        assert_eq!(parse_time("2026-11-24T10:00Z", 0), Some(1_795_514_400_000));
        assert_eq!(parse_time("30m", 3_600_000), Some(1_800_000));
        assert_eq!(parse_time("2d", 0), Some(-172_800_000));
        for bad in [
            "yesterday",
            "2026-13-01",
            "10m ago",
            "2026-11-24T10:00:00",
            "5x",
            "",
        ] {
            assert_eq!(parse_time(bad, 0), None, "{bad}");
        }
    }
}
