//! Fractional ordering within a status column.
//!
//! A task's `position` is a float; placing a task between two others gives it the midpoint,
//! so a move writes one document. Halving eventually exhausts double precision (or two
//! concurrent appends tie), so when the gap gets too small the column is renumbered once
//! ("rebalanced") and the move is retried; that is rare: it takes ~30 moves into the very same
//! gap.

/// Distance between neighbours after an append or a rebalance. A power of two, so halving it
/// is exact for a long time.
pub const STEP: f64 = 1024.0;
/// Below this gap a column is rebalanced rather than split further.
pub const MIN_GAP: f64 = 1e-6;

/// Where a moved or created task goes, given its future neighbours in the column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Slot {
    /// After `prev` (the column's last task), or alone in an empty column.
    Last { prev: Option<f64> },
    /// Right before `next`, after `prev` when there is a task before `next`.
    Before { prev: Option<f64>, next: f64 },
}

/// The position for `slot`, or `None` when the gap is exhausted and the column needs a
/// rebalance first.
pub fn between(slot: Slot) -> Option<f64> {
    match slot {
        Slot::Last { prev: None } => Some(STEP),
        Slot::Last { prev: Some(prev) } => finite(prev + STEP).filter(|p| *p > prev),
        Slot::Before { prev: None, next } => finite(next - STEP).filter(|p| *p < next),
        Slot::Before {
            prev: Some(prev),
            next,
        } => {
            let mid = prev + (next - prev) / 2.0;
            let fits = next - prev >= MIN_GAP && prev < mid && mid < next;
            finite(mid).filter(|_| fits)
        }
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The positions a rebalanced column of `len` tasks gets, in order.
pub fn rebalanced(len: usize) -> impl Iterator<Item = f64> {
    (1..=len).map(|i| i as f64 * STEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_prepends_step_away() {
        assert_eq!(between(Slot::Last { prev: None }), Some(STEP));
        assert_eq!(between(Slot::Last { prev: Some(2048.0) }), Some(3072.0));
        assert_eq!(
            between(Slot::Before {
                prev: None,
                next: 1024.0
            }),
            Some(0.0)
        );
    }

    #[test]
    fn midpoints_until_the_gap_is_exhausted() {
        let (prev, mut next) = (1024.0, 2048.0);
        let mut splits = 0;
        while let Some(mid) = between(Slot::Before {
            prev: Some(prev),
            next,
        }) {
            assert!(prev < mid && mid < next);
            next = mid;
            splits += 1;
        }
        assert!(
            (25..40).contains(&splits),
            "{splits} splits before rebalancing"
        );
    }

    #[test]
    fn ties_and_huge_values_need_a_rebalance() {
        let tie = Slot::Before {
            prev: Some(5.0),
            next: 5.0,
        };
        assert_eq!(between(tie), None);
        let huge = 2f64.powi(60);
        let dense = Slot::Before {
            prev: Some(huge),
            next: huge + 256.0,
        };
        assert_eq!(between(dense), None, "no double strictly between them");
        assert_eq!(
            between(Slot::Last {
                prev: Some(f64::MAX)
            }),
            None
        );
    }

    #[test]
    fn rebalanced_positions_are_steps() {
        let positions: Vec<f64> = rebalanced(3).collect();
        assert_eq!(positions, vec![1024.0, 2048.0, 3072.0]);
    }
}
