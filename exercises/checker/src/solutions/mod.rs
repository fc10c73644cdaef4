//! Reference solutions (spoilers!). The exercise files do not reveal them;
//! `cargo run -p coord-exercises -- solution N` prints one once your own code passes.

pub mod ex01;
pub mod ex02;
pub mod ex03;
pub mod ex04;
pub mod ex05;
