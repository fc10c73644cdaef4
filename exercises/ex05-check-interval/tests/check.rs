//! `cargo test -p ex05-check-interval` runs exercise 5's check, the same one as
//! `cargo run -p coord-exercises -- check 5`. While src/lib.rs is the untouched stub, this
//! test passes and says "not started"; once you edit it, it fails until your code passes.

#[test]
fn check() {
    coord_exercises::check_as_test(5);
}
