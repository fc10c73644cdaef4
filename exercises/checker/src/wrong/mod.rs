//! Known-wrong implementations, one file per exercise. Each carries a one-line comment
//! naming its mistake; the test suite proves each exercise's contract rejects them.

pub mod ex01;
pub mod ex02;
pub mod ex03;
pub mod ex04;
pub mod ex05;
