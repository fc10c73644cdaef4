//! `cargo test -p ex04-choose-primitive` runs exercise 4's check, the same one as
//! `cargo run -p coord-exercises -- check 4`. While src/lib.rs is the untouched stub, this
//! test passes and says "not started"; once you edit it, it fails until your code passes.

#[test]
fn check() {
    coord_exercises::check_as_test(4);
}
