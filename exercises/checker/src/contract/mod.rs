//! The contracts: one `check` per exercise, runnable against any implementation.

pub mod ex01;
pub mod ex02;
pub mod ex03;
pub mod ex04;
pub mod ex05;
