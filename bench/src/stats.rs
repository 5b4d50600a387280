//! Repeated timings and their median, the figure the report quotes (robust to one run slowed
//! by whatever else the machine was doing).

use std::time::Duration;

/// The timings of several runs of one measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Wraps the timings, in any order.
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    /// Adds one more timing.
    pub fn push(&mut self, sample: Duration) {
        let at = self.0.partition_point(|known| *known <= sample);
        self.0.insert(at, sample);
    }

    /// How many runs there were.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The median (the mean of the middle two for an even count); zero when empty.
    pub fn median(&self) -> Duration {
        let n = self.0.len();
        match n {
            0 => Duration::ZERO,
            _ if n % 2 == 1 => self.0[n / 2],
            _ => (self.0[n / 2 - 1] + self.0[n / 2]) / 2,
        }
    }

    /// The fastest run; zero when empty.
    pub fn min(&self) -> Duration {
        self.0.first().copied().unwrap_or_default()
    }

    /// The slowest run; zero when empty.
    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }

    /// `12.34 s (11.90–13.01, n=3)`, or `12.34 s` for a single run.
    pub fn describe(&self) -> String {
        if self.0.len() <= 1 {
            return format!("{:.2} s", self.median().as_secs_f64());
        }
        format!(
            "{:.2} s ({:.2}–{:.2}, n={})",
            self.median().as_secs_f64(),
            self.min().as_secs_f64(),
            self.max().as_secs_f64(),
            self.0.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(Samples::new(vec![ms(30), ms(10), ms(20)]).median(), ms(20));
        assert_eq!(
            Samples::new(vec![ms(40), ms(10), ms(20), ms(30)]).median(),
            ms(25)
        );
        assert_eq!(Samples::default().median(), Duration::ZERO);
    }
}
