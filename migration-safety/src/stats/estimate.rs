//! The throughput model: how long a statement works on a table of a given size, as a range.
//!
//! Each kind of [`Work`] goes through a number of bytes at a rate between a slow and a fast
//! end. The rates were measured with PostgreSQL 15.18 on two shared x86_64 cores, tables of
//! 100,000 to 3 million rows of `(bigint primary key, text, int, timestamptz, text)` held in
//! memory (see the README, "Table statistics", for the measurements). The slow end divides
//! the slowest measurement by about three for disks slower than memory, WAL written with
//! `fsync` and servers busy with traffic; the fast end allows for faster CPUs. The real-server
//! suite (`tests/stats.rs`) checks the ranges against this machine's PostgreSQL, for order of
//! magnitude, on generated tables of several sizes.

use std::fmt;
use std::time::Duration;

use super::TableStats;

/// What a statement does to a table, for the duration model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    /// Only takes its lock: no estimate, the duration is the wait for the lock.
    Lock,
    /// Reads every row (a `CHECK` or foreign key being validated, `SET NOT NULL`): the table's
    /// data at 50 to 500 MB/s.
    Scan,
    /// Builds an index (`CREATE INDEX`, a unique or primary key constraint, `REINDEX`): reads
    /// and sorts the table's data at 10 to 80 MB/s.
    IndexBuild,
    /// Writes a new copy of the table and rebuilds every index (`ALTER COLUMN … TYPE`,
    /// `VACUUM FULL`, `CLUSTER`…): the table's and its indexes' bytes at 10 to 80 MB/s.
    Rewrite,
}

/// How long a statement works, as a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// The fast end.
    pub low: Duration,
    /// The slow end.
    pub high: Duration,
}

const MB: f64 = 1024.0 * 1024.0;

impl Work {
    /// The rates of the model, in MB/s: the slow end, then the fast end; `None` for
    /// [`Work::Lock`].
    pub fn throughput(self) -> Option<(f64, f64)> {
        match self {
            Work::Lock => None,
            Work::Scan => Some((50.0, 500.0)),
            Work::IndexBuild | Work::Rewrite => Some((10.0, 80.0)),
        }
    }

    /// The bytes the work goes through on `table`.
    pub fn bytes(self, table: &TableStats) -> u64 {
        match self {
            Work::Lock => 0,
            Work::Scan | Work::IndexBuild => table.table_bytes,
            Work::Rewrite => table.table_bytes + table.index_bytes(),
        }
    }

    /// How long the work takes on `table`; `None` for [`Work::Lock`].
    ///
    /// ```
    /// use migration_safety::stats::{TableStats, Work};
    ///
    /// let events = TableStats::new("public", "events", 48_000_000, 12 << 30);
    /// let estimate = Work::Rewrite.estimate(&events).unwrap();
    /// assert_eq!(estimate.to_string(), "roughly 3–20 minutes");
    /// assert_eq!(Work::Scan.estimate(&events).unwrap().to_string(), "roughly 25 seconds to 4 minutes");
    /// assert_eq!(Work::Lock.estimate(&events), None);
    /// ```
    pub fn estimate(self, table: &TableStats) -> Option<Estimate> {
        let (slow, fast) = self.throughput()?;
        let megabytes = self.bytes(table) as f64 / MB;
        Some(Estimate {
            low: Duration::from_secs_f64(megabytes / fast),
            high: Duration::from_secs_f64(megabytes / slow),
        })
    }

    /// What the statement does to the table, as a gerund: `rewriting it`.
    pub(crate) fn doing(self) -> &'static str {
        match self {
            Work::Lock => "locking it",
            Work::Scan => "scanning it",
            Work::IndexBuild => "building the index",
            Work::Rewrite => "rewriting it",
        }
    }
}

impl fmt::Display for Estimate {
    /// `roughly 4–9 minutes`, `roughly 20 seconds to 3 minutes`, `under a second`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (low, high) = (self.low.as_secs_f64(), self.high.as_secs_f64());
        if high < 1.0 {
            return f.write_str("under a second");
        }
        let unit = |seconds: f64| -> (f64, &'static str) {
            if seconds < 90.0 {
                (seconds, "second")
            } else if seconds < 90.0 * 60.0 {
                (seconds / 60.0, "minute")
            } else {
                (seconds / 3600.0, "hour")
            }
        };
        let (low_value, low_unit) = unit(low);
        let (high_value, high_unit) = unit(high);
        let round = |value: f64| (value.round() as u64).max(1);
        let plural = |value: u64, unit: &str| {
            if value == 1 {
                format!("{value} {unit}")
            } else {
                format!("{value} {unit}s")
            }
        };
        let (low_value, high_value) = (round(low_value), round(high_value));
        if low < 1.0 {
            write!(f, "up to {}", plural(high_value, high_unit))
        } else if low_unit == high_unit {
            if low_value == high_value {
                write!(f, "roughly {}", plural(high_value, high_unit))
            } else {
                write!(f, "roughly {low_value}–{}", plural(high_value, high_unit))
            }
        } else {
            write!(
                f,
                "roughly {} to {}",
                plural(low_value, low_unit),
                plural(high_value, high_unit)
            )
        }
    }
}

/// `12 GB`, `8192 bytes`, `1.5 MB`: binary units, as `pg_size_pretty` prints them.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{} {}", value.round(), UNITS[unit])
    }
}

/// `40`, `9,412`, `12k`, `48M`, `1.2B`.
pub(crate) fn count(n: u64) -> String {
    match n {
        0..10_000 => {
            let digits = n.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
        10_000..1_000_000 => format!("{}k", (n as f64 / 1e3).round()),
        1_000_000..10_000_000 => trim(format!("{:.1}M", n as f64 / 1e6)),
        10_000_000..1_000_000_000 => format!("{}M", (n as f64 / 1e6).round()),
        _ => trim(format!("{:.1}B", n as f64 / 1e9)),
    }
}

/// `2.0M` → `2M`.
fn trim(text: String) -> String {
    text.replace(".0", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(low: f64, high: f64) -> String {
        Estimate {
            low: Duration::from_secs_f64(low),
            high: Duration::from_secs_f64(high),
        }
        .to_string()
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(estimate(0.01, 0.2), "under a second");
        assert_eq!(estimate(0.3, 4.0), "up to 4 seconds");
        assert_eq!(estimate(2.0, 9.0), "roughly 2–9 seconds");
        assert_eq!(estimate(20.0, 200.0), "roughly 20 seconds to 3 minutes");
        assert_eq!(estimate(240.0, 540.0), "roughly 4–9 minutes");
        assert_eq!(estimate(3600.0, 36000.0), "roughly 60 minutes to 10 hours");
        assert_eq!(estimate(60.0, 61.0), "roughly 60–61 seconds");
    }

    #[test]
    fn sizes_and_counts_are_short() {
        assert_eq!(size(8192), "8192 bytes");
        assert_eq!(size(12 << 30), "12 GB");
        assert_eq!(size(1536 * 1024), "1.5 MB");
        assert_eq!(count(40), "40");
        assert_eq!(count(9412), "9,412");
        assert_eq!(count(12_345), "12k");
        assert_eq!(count(2_000_000), "2M");
        assert_eq!(count(2_500_000), "2.5M");
        assert_eq!(count(48_000_000), "48M");
        assert_eq!(count(1_200_000_000), "1.2B");
    }
}
