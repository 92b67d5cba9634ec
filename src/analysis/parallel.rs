//! Work spread over the available cores with scoped threads: results always come back
//! in input order, so every analysis stays deterministic whatever the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads for parallel work: the available cores, at most 8.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(8)
}

/// Splits `0..n` over the available cores; results come back in order.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads();
    if threads <= 1 || n < 2_000 {
        return (0..n).map(&f).collect();
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(f)
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Runs `f` on the blocks `0..n` over the available cores, each thread taking the next
/// block when it is done with one (blocks of uneven cost balance out); results come back
/// in block order, whatever the number of threads.
pub(crate) fn par_blocks<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let (done, _) = par_blocks_with(n, || (), |(), b| f(b));
    done.into_iter().map(|(_, r)| r).collect()
}

/// [`par_blocks`] with a state per thread (e.g. an output buffer that grows once per
/// thread rather than once per block), made by `init`: the results in block order, each
/// with the index of the thread that made it, and the states by thread index.
pub(crate) fn par_blocks_with<S: Send, T: Send>(
    n: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> T + Sync,
) -> (Vec<(usize, T)>, Vec<S>) {
    let threads = threads().min(n).max(1);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        let mut out = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= n {
                break (out, state);
            }
            out.push((b, f(&mut state, b)));
        }
    };
    let per_thread: Vec<(Vec<(usize, T)>, S)> = if threads == 1 {
        vec![work()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    let mut done: Vec<(usize, usize, T)> = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(per_thread.len());
    for (t, (out, state)) in per_thread.into_iter().enumerate() {
        done.extend(out.into_iter().map(|(b, r)| (b, t, r)));
        states.push(state);
    }
    done.sort_unstable_by_key(|d| d.0);
    let results = done.into_iter().map(|(_, t, r)| (t, r)).collect();
    (results, states)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come back in block order whatever thread takes which block, and each
    /// thread's state holds what its blocks wrote.
    #[test]
    fn par_blocks_keep_block_order() {
        let n = 257;
        let (done, states) = par_blocks_with(n, Vec::<usize>::new, |seen, b| {
            // Uneven costs, so threads interleave.
            let spin: u64 = (0..(b % 7) * 2_000).map(|x| x as u64).sum();
            seen.push(b);
            (b * 2, spin)
        });
        assert_eq!(done.len(), n);
        for (b, (t, (v, _))) in done.iter().enumerate() {
            assert_eq!(*v, b * 2);
            assert!(states[*t].contains(&b));
        }
        assert_eq!(states.iter().map(Vec::len).sum::<usize>(), n);
        assert_eq!(par_blocks(5, |b| b + 1), vec![1, 2, 3, 4, 5]);
        assert!(par_blocks(0, |b| b).is_empty());
    }
}
