//! Route matching: a router of 10 routes against one of 1,000 (the same shapes), asked
//! for a path deep in the table. The compiled tree makes one hash lookup per segment, so
//! the two should cost about the same.
//!
//! `cargo bench -p torsion-web --bench router`

#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use criterion::{criterion_group, criterion_main, Criterion};
use torsion_web::server::{Lookup, Params, Render, Request, Router};

fn table(routes: usize) -> Router {
    let mut router = Router::new();
    for i in 0..routes {
        let handler = |_: &Request, _: &Params| Render::from("x");
        router
            .try_route(
                &["GET"],
                &format!("/section{i}/{{id}}/items/{{item}}"),
                handler,
            )
            .expect("a valid, new route");
    }
    router
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("router lookup");
    for routes in [10, 1000] {
        let router = table(routes);
        let path = format!("/section{}/42/items/7", routes - 1);
        group.bench_function(format!("{routes} routes"), |b| {
            b.iter(|| {
                let found = router.lookup("GET", std::hint::black_box(&path));
                assert!(matches!(found, Lookup::Route(_)));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
