//! Deferred costs: a chain of ten callbacks made and fired, and gather_results over
//! 1,000 fired Deferreds; beside them, the floor the issue names (a Vec of ten boxed
//! closures run in order). Python Twisted's figures for the same two operations come
//! from `benches/twisted_defer.py`; BENCHMARKS.md has both.
//!
//! The `await` group: a future awaiting a pending Deferred, polled by hand; and
//! `ensure_deferred` over ten awaits of fired Deferreds.
//!
//! `cargo bench -p torsion --bench defer`

#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use torsion::defer::{gather_results, ok, succeed, Deferred};
use torsion::Reactor;

fn chain_of_ten(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(10));
    group.bench_function("deferred_10_callbacks", |b| {
        b.iter(|| {
            let (d, resolver) = Deferred::<u64>::new();
            let d = d
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1))
                .add_callback(|x| Ok(x + 1));
            let _ = resolver.callback(black_box(1));
            black_box(d.try_result().ok())
        })
    });
    group.bench_function("vec_of_10_boxed_closures", |b| {
        b.iter(|| {
            let mut calls: Vec<Box<dyn FnOnce(u64) -> u64>> = Vec::new();
            for _ in 0..10 {
                calls.push(Box::new(|x| x + 1));
            }
            let mut x = black_box(1);
            for call in calls {
                x = call(x);
            }
            black_box(x)
        })
    });
    group.finish();
}

fn gather_thousand(c: &mut Criterion) {
    let mut group = c.benchmark_group("gather");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("gather_results_1000_fired", |b| {
        b.iter_batched(
            || (0..1000u64).map(succeed).collect::<Vec<_>>(),
            |deferreds| black_box(gather_results(deferreds).try_result().ok()),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("succeed_and_gather_1000", |b| {
        b.iter(|| black_box(gather_results((0..1000u64).map(succeed)).try_result().ok()))
    });
    group.finish();
}

fn await_deferreds(c: &mut Criterion) {
    let mut group = c.benchmark_group("await");
    group.bench_function("await_pending_deferred_by_hand", |b| {
        let mut cx = Context::from_waker(Waker::noop());
        b.iter(|| {
            let (d, resolver) = Deferred::<u64>::new();
            let mut fut = pin!(async move { d.await.map(|n| n + 1) });
            let _ = fut.as_mut().poll(&mut cx);
            let _ = resolver.callback(black_box(1));
            black_box(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(2))))
        })
    });
    group.throughput(Throughput::Elements(10));
    group.bench_function("ensure_deferred_10_fired_awaits", |b| {
        let reactor = Reactor::new().unwrap();
        b.iter(|| {
            let d = reactor.ensure_deferred(async {
                let mut n = 0u64;
                for i in 0..10u64 {
                    n += succeed(black_box(i)).await?;
                }
                ok(n)
            });
            black_box(d.try_result().ok())
        })
    });
    group.finish();
}

criterion_group!(benches, chain_of_ten, gather_thousand, await_deferreds);
criterion_main!(benches);
