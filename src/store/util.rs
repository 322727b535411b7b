//! Ids and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// A readable random id: `prefix-` and 16 hex digits (`ipam-pool-3f9a…`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    // the OS random source failing is not recoverable in any useful way; fall back to time
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// A pool's release cooldown from its stored columns, seconds and mode (`NULL` seconds: none;
/// a mode other than `strict`: soft), as both backends store it.
pub(crate) fn cooldown_from_columns(
    seconds: Option<i64>,
    mode: Option<&str>,
) -> Option<crate::ipam::ReleaseCooldown> {
    use crate::ipam::{CooldownMode, ReleaseCooldown};
    Some(ReleaseCooldown {
        seconds: u64::try_from(seconds?).unwrap_or(0),
        mode: match mode {
            Some("strict") => CooldownMode::Strict,
            _ => CooldownMode::Soft,
        },
    })
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The current time as a transaction's time (what every backend's `Transaction::now` gives).
pub(crate) fn transaction_now() -> crate::ipam::engine::port::Now {
    let millis = now_millis();
    crate::ipam::engine::port::Now {
        millis,
        text: format_millis(millis),
    }
}

/// A Unix time in milliseconds as RFC 3339 UTC with milliseconds (`2026-11-23T21:21:38.123Z`).
pub fn format_millis(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis.rem_euclid(1000)
    )
}

/// The current UTC time as RFC 3339 with milliseconds (`2026-11-23T21:21:38.123Z`).
pub fn now_rfc3339() -> String {
    format_millis(now_millis())
}

/// Unix milliseconds of an RFC 3339 UTC time as the store writes it
/// (`2026-11-24T02:03:04.123Z`, fraction optional).
pub fn rfc3339_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match text.get(19..text.len() - 1)? {
        "" => 0,
        fraction => {
            let digits = fraction.strip_prefix('.')?;
            let padded: String = digits.chars().chain("000".chars()).take(3).collect();
            padded.parse::<i64>().ok()?
        }
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm); `month`
/// is 1 to 12.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Allocation ids: `ipam-alloc-` and 16 hex digits, like every other id, but derived from the
/// sequence number of the allocation's `allocate` audit event by a keyed permutation of 64-bit
/// numbers (a four-round Feistel network; the key is random per database). Distinct sequences
/// give distinct ids that look random, and an id leads back to its event, which names the pool
/// and the CIDR: the allocation is then found by its primary key. So an allocation needs no
/// index of its own id, which would be one more b-tree page to write and sync per allocation.
/// Not a secret: ids are identifiers, not capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceIds {
    keys: [u32; 4],
}

/// The prefix of allocation ids.
pub const ALLOCATION_ID_PREFIX: &str = "ipam-alloc-";

impl SequenceIds {
    /// The permutation for a 16-byte key (shorter keys are zero-padded).
    pub fn new(key: &[u8]) -> SequenceIds {
        let mut bytes = [0u8; 16];
        for (to, from) in bytes.iter_mut().zip(key) {
            *to = *from;
        }
        let word =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        SequenceIds {
            keys: [word(0), word(4), word(8), word(12)],
        }
    }

    /// The round function: a keyed 32-bit mixer (xor-shift-multiply).
    fn round(half: u32, key: u32) -> u32 {
        let mut h = half ^ key;
        h ^= h >> 16;
        h = h.wrapping_mul(0x7feb_352d);
        h ^= h >> 15;
        h = h.wrapping_mul(0x846c_a68b);
        h ^ (h >> 16)
    }

    fn permute(&self, value: u64) -> u64 {
        let (mut left, mut right) = ((value >> 32) as u32, value as u32);
        for key in self.keys {
            (left, right) = (right, left ^ Self::round(right, key));
        }
        (u64::from(left) << 32) | u64::from(right)
    }

    fn unpermute(&self, value: u64) -> u64 {
        let (mut left, mut right) = ((value >> 32) as u32, value as u32);
        for key in self.keys.into_iter().rev() {
            (left, right) = (right ^ Self::round(left, key), left);
        }
        (u64::from(left) << 32) | u64::from(right)
    }

    /// The id of the allocation made by audit event `sequence`.
    pub fn id(&self, sequence: i64) -> String {
        format!(
            "{ALLOCATION_ID_PREFIX}{:016x}",
            self.permute(sequence as u64)
        )
    }

    /// The audit sequence an allocation id was made from, when `id` has the shape of one.
    pub fn sequence(&self, id: &str) -> Option<i64> {
        let hex = id.strip_prefix(ALLOCATION_ID_PREFIX)?;
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let value = u64::from_str_radix(hex, 16).ok()?;
        i64::try_from(self.unpermute(value)).ok().filter(|&s| s > 0)
    }
}

/// The account name of user `uid` from the system's user database (`/etc/passwd`, LDAP, …),
/// or `None` when it has none.
pub fn account_name(uid: u32) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: passwd is plain data; getpwuid_r writes into it and `buffer` only, within the
    // given length, and leaves `result` null when there is no entry
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let status = libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        );
        if status != 0 || result.is_null() || entry.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(entry.pw_name).to_string_lossy();
        (!name.is_empty()).then(|| name.into_owned())
    }
}

/// The account name of the user this process runs as, or `uid N` when the system has none.
pub fn current_account() -> String {
    // SAFETY: geteuid cannot fail
    let uid = unsafe { libc::geteuid() };
    account_name(uid).unwrap_or_else(|| format!("uid {uid}"))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right_around_leap_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
    }

    #[test]
    fn ids_are_prefixed_random_hex() {
        let (a, b) = (new_id("ipam-alloc"), new_id("ipam-alloc"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "ipam-alloc-".len() + 16);
        assert!(a["ipam-alloc-".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit()));
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn accounts_are_named_from_the_user_database() {
        assert_eq!(account_name(0).as_deref(), Some("root"));
        assert_eq!(account_name(4_000_000_000), None);
        assert!(!current_account().is_empty());
    }

    #[test]
    fn store_times_parse_to_unix_milliseconds() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            rfc3339_millis("2026-11-24T02:03:04.123Z"),
            Some(1_795_485_784_123)
        );
        assert_eq!(
            rfc3339_millis("2000-03-01T00:00:00Z"),
            Some(951_868_800_000)
        );
        assert_eq!(rfc3339_millis("yesterday"), None);
    }

    #[test]
    fn millis_format_as_rfc3339() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_795_468_898_123), "2026-11-23T21:21:38.123Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn sequence_ids_round_trip_and_look_random() {
        let ids = SequenceIds::new(b"0123456789abcdef");
        let mut seen = std::collections::HashSet::new();
        for sequence in (1..5_000).chain([i64::MAX, 1 << 40]) {
            let id = ids.id(sequence);
            assert_eq!(id.len(), ALLOCATION_ID_PREFIX.len() + 16, "{id}");
            assert_eq!(ids.sequence(&id), Some(sequence), "{id}");
            assert!(seen.insert(id));
        }
        // consecutive sequences do not give neighbouring ids
        let (a, b) = (ids.id(7), ids.id(8));
        assert_ne!(a[..a.len() - 4], b[..b.len() - 4]);
        // another database's key gives other ids
        assert_ne!(SequenceIds::new(b"another key 0001").id(7), a);
        for bad in [
            "ipam-alloc-xyz",
            "ipam-pool-0123456789abcdef",
            "ipam-alloc-0123456789abcdef0",
            "",
        ] {
            assert_eq!(ids.sequence(bad), None, "{bad}");
        }
    }
}
