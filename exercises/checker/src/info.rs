//! Every exercise in one table: its lecture section, its file, its hint, and the
//! implementations the suite runs its contract against.

use crate::contract;
use crate::harness::{Options, Verdict};
use crate::{solutions, wrong};

/// One known-wrong implementation and the words its failure must contain.
pub struct Wrong {
    pub name: &'static str,
    /// The mistake, in a few words (the same as the one-line comment on the code).
    pub mistake: &'static str,
    pub run: fn(&Options) -> Verdict,
    /// A piece of the failure message: the contract must reject it for this reason.
    pub expect: &'static str,
    /// Whether it fails only because the checker forces a race (the proof then runs it many
    /// times: it must fail every time).
    pub racy: bool,
}

pub struct Exercise {
    pub number: u32,
    pub name: &'static str,
    pub package: &'static str,
    pub section: &'static str,
    pub topic: &'static str,
    /// The learner's file, relative to the workspace root.
    pub file: &'static str,
    /// The learner's file as compiled into this binary.
    pub source: &'static str,
    /// FNV-1a hash of the file as shipped: while `source` hashes to this, it is the untouched stub.
    pub shipped_hash: u64,
    pub hint: &'static str,
    pub solution_source: &'static str,
    pub learner: fn(&Options) -> Verdict,
    pub solution: fn(&Options) -> Verdict,
    pub wrongs: &'static [Wrong],
}

impl Exercise {
    /// Whether the learner's file is still exactly the shipped stub.
    pub fn untouched(&self) -> bool {
        fnv1a(self.source) == self.shipped_hash
    }
}

/// 64-bit FNV-1a: a fingerprint of the shipped stubs (not security, just "was it edited?").
pub fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn find(number: u32) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.number == number)
}

pub static EXERCISES: &[Exercise] = &[
    Exercise {
        number: 1,
        name: "poison pill",
        package: "ex01-poison-pill",
        section: "1.1",
        topic: "shut a worker pool down through its own queue",
        file: "exercises/ex01-poison-pill/src/lib.rs",
        source: include_str!("../../ex01-poison-pill/src/lib.rs"),
        shipped_hash: 0x8f81_5d22_e0d4_ad4a,
        hint: "\
The queue keeps the order in which one producer puts: if the pills go in after the last
task, no worker can take a pill before every task has been taken. Put one Job::Stop per
worker (a worker that takes a pill leaves, so it never takes a second one).

The worker is a loop around jobs.get(): a Task is processed and answered on `done`, a Stop
ends the loop with Ok(()). Do not stop on an empty queue, a timeout, or an error of your
own making: the pill is the only signal.",
        solution_source: include_str!("solutions/ex01.rs"),
        learner: |o| {
            contract::ex01::check(
                contract::ex01::Ex01 {
                    submit: ex01_poison_pill::submit,
                    worker: ex01_poison_pill::worker,
                },
                o,
            )
        },
        solution: |o| {
            contract::ex01::check(
                contract::ex01::Ex01 {
                    submit: solutions::ex01::submit,
                    worker: solutions::ex01::worker,
                },
                o,
            )
        },
        wrongs: &[
            Wrong {
                name: "submit_no_pill",
                mistake: "forgets the sentinel",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: wrong::ex01::submit_no_pill,
                            worker: wrong::ex01::worker,
                        },
                        o,
                    )
                },
                expect: "carried 0 pill(s) for 3 workers",
                racy: false,
            },
            Wrong {
                name: "submit_one_pill",
                mistake: "one pill for the whole pool",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: wrong::ex01::submit_one_pill,
                            worker: wrong::ex01::worker,
                        },
                        o,
                    )
                },
                expect: "2 of 3 workers were still waiting",
                racy: false,
            },
            Wrong {
                name: "submit_pills_first",
                mistake: "pills before the tasks",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: wrong::ex01::submit_pills_first,
                            worker: wrong::ex01::worker,
                        },
                        o,
                    )
                },
                expect: "101 of 101 tasks were never processed",
                racy: false,
            },
            Wrong {
                name: "submit_fixed_pool",
                mistake: "ignores `workers`: always four pills",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: wrong::ex01::submit_fixed_pool,
                            worker: wrong::ex01::worker,
                        },
                        o,
                    )
                },
                expect: "4 pills were put for 3 workers",
                racy: false,
            },
            Wrong {
                name: "worker_ignores_pill",
                mistake: "the worker swallows its pill",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: solutions::ex01::submit,
                            worker: wrong::ex01::worker_ignores_pill,
                        },
                        o,
                    )
                },
                expect: "3 of 3 workers were still waiting",
                racy: false,
            },
            Wrong {
                name: "worker_leaves_on_empty",
                mistake: "leaves on an empty queue, not on its pill",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: solutions::ex01::submit,
                            worker: wrong::ex01::worker_leaves_on_empty,
                        },
                        o,
                    )
                },
                expect: "returned before any job was put",
                racy: false,
            },
            Wrong {
                name: "worker_leaves_on_timeout",
                mistake: "leaves on a timeout, not on its pill",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: solutions::ex01::submit,
                            worker: wrong::ex01::worker_leaves_on_timeout,
                        },
                        o,
                    )
                },
                expect: "returned before any job was put",
                racy: false,
            },
            Wrong {
                name: "done_names_worker_zero",
                mistake: "every answer names worker 0",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: solutions::ex01::submit,
                            worker: wrong::ex01::done_names_worker_zero,
                        },
                        o,
                    )
                },
                expect: "but its Done names worker 0",
                racy: true,
            },
            Wrong {
                name: "worker_batches_answers",
                mistake: "batches answers and loses the unsent batch at the pill",
                run: |o| {
                    contract::ex01::check(
                        contract::ex01::Ex01 {
                            submit: solutions::ex01::submit,
                            worker: wrong::ex01::worker_batches_answers,
                        },
                        o,
                    )
                },
                expect: "taken from the queue but never answered",
                racy: true,
            },
        ],
    },
    Exercise {
        number: 2,
        name: "lock-check-set",
        package: "ex02-lock-check-set",
        section: "2.1, 6.1",
        topic: "exactly one winner when many find at once",
        file: "exercises/ex02-lock-check-set/src/lib.rs",
        source: include_str!("../../ex02-lock-check-set/src/lib.rs"),
        shipped_hash: 0xb58f_9ef8_2120_5816,
        hint: "\
\"Is the slot free?\" and \"take the slot\" must be one step: between them, another worker
can ask the same question and get the same answer. Take the flag's lock first
(`let _guard = found.lock();`), then check, then set and put, all while holding it.
Every worker that gets the lock after the winner sees the flag set and returns Ok(false).
A check before taking the lock is allowed as a shortcut, but it never replaces the check
inside.",
        solution_source: include_str!("solutions/ex02.rs"),
        learner: |o| contract::ex02::check(ex02_lock_check_set::claim, o),
        solution: |o| contract::ex02::check(solutions::ex02::claim, o),
        wrongs: &[
            Wrong {
                name: "check_without_lock",
                mistake: "checks and sets without the lock",
                run: |o| contract::ex02::check(wrong::ex02::check_without_lock, o),
                expect: "checked the flag outside the lock",
                racy: true,
            },
            Wrong {
                name: "no_check_inside_lock",
                mistake: "checks outside the lock, not again inside",
                run: |o| contract::ex02::check(wrong::ex02::no_check_inside_lock, o),
                expect: "checked the flag outside the lock",
                racy: true,
            },
            Wrong {
                name: "never_sets_flag",
                mistake: "never sets the flag",
                run: |o| contract::ex02::check(wrong::ex02::never_sets_flag, o),
                expect: "the flag was never set",
                racy: false,
            },
            Wrong {
                name: "check_then_set_two_locks",
                mistake: "checks under one hold of the lock, sets under a second",
                run: |o| contract::ex02::check(wrong::ex02::check_then_set_two_locks, o),
                expect: "set it under a second acquisition",
                racy: true,
            },
            Wrong {
                name: "dropped_guard",
                mistake: "`let _ = found.lock();` drops the guard at once",
                run: |o| contract::ex02::check(wrong::ex02::dropped_guard, o),
                expect: "released it on the same line",
                racy: true,
            },
        ],
    },
    Exercise {
        number: 3,
        name: "cooperative early exit",
        package: "ex03-early-exit",
        section: "2.1",
        topic: "stop a first-found-wins search",
        file: "exercises/ex03-early-exit/src/lib.rs",
        source: include_str!("../../ex03-early-exit/src/lib.rs"),
        shipped_hash: 0x5f90_b31d_92d5_2b07,
        hint: "\
Nobody can tell the other workers to stop: they must look. In the loop over the range,
read `found` before each test and return if it is set. When `probe.test(n)` is true,
claim the win as in exercise 2: take `found.get_lock().lock()`, check again, set the
flag, put the Find, then return. Without the set, the others have nothing to see.",
        solution_source: include_str!("solutions/ex03.rs"),
        learner: |o| contract::ex03::check(ex03_early_exit::search, o),
        solution: |o| contract::ex03::check(solutions::ex03::search, o),
        wrongs: &[
            Wrong {
                name: "never_checks",
                mistake: "a check that never happens",
                run: |o| contract::ex03::check(wrong::ex03::never_checks, o),
                expect: "test(s) after the flag was set",
                racy: false,
            },
            Wrong {
                name: "winner_never_sets_flag",
                mistake: "the winner never sets the flag",
                run: |o| contract::ex03::check(wrong::ex03::winner_never_sets_flag, o),
                expect: "the shared flag was never set",
                racy: false,
            },
            Wrong {
                name: "set_without_lock",
                mistake: "the finder checks and sets without the lock",
                run: |o| contract::ex03::check(wrong::ex03::set_without_lock, o),
                expect: "set the flag without holding the lock",
                racy: true,
            },
            Wrong {
                name: "claim_without_check",
                mistake: "the finder claims without checking under the lock",
                run: |o| contract::ex03::check(wrong::ex03::claim_without_check, o),
                expect: "claimed without checking",
                racy: true,
            },
            Wrong {
                name: "walks_on_after_flag",
                mistake: "stops testing after the flag but does not return",
                run: |o| contract::ex03::check(wrong::ex03::walks_on_after_flag, o),
                expect: "times after it was set without returning",
                racy: false,
            },
            Wrong {
                name: "checks_every_other",
                mistake: "looks at the flag before every second candidate only",
                run: |o| contract::ex03::check(wrong::ex03::checks_every_other, o),
                expect: "began 1 test(s) after the flag was set",
                racy: false,
            },
            Wrong {
                name: "sets_flag_when_range_runs_out",
                mistake: "sets the flag when its range runs out",
                run: |o| contract::ex03::check(wrong::ex03::sets_flag_when_range_runs_out, o),
                expect: "set the flag without finding anything",
                racy: false,
            },
        ],
    },
    Exercise {
        number: 4,
        name: "choose the primitive",
        package: "ex04-choose-primitive",
        section: "3.1, 5.1",
        topic: "a hot counter and a growing list, each with its mechanism",
        file: "exercises/ex04-choose-primitive/src/lib.rs",
        source: include_str!("../../ex04-choose-primitive/src/lib.rs"),
        shipped_hash: 0xc20c_62bd_6f53_59fb,
        hint: "\
Ask two questions of each piece of state: how often is it touched, and is its size known
in advance? The counter is touched on every item and is one integer: keep it in shared
memory and update it with one atomic step (a RawValue<u64> and fetch_add; a read followed
by a write loses updates). The results are few but their number is unknown: a fixed Array
cannot hold them all; a manager list (manager.list(), one round trip per append) or a
Queue that the parent drains in results() can. Create everything in new(): the workers
are forked after it returns and inherit it.",
        solution_source: include_str!("solutions/ex04.rs"),
        learner: |o| contract::ex04::check::<ex04_choose_primitive::Shared>(o),
        solution: |o| contract::ex04::check::<solutions::ex04::Shared>(o),
        wrongs: &[
            Wrong {
                name: "ManagerCounter",
                mistake: "a manager in a tight loop",
                run: |o| contract::ex04::check::<wrong::ex04::ManagerCounter>(o),
                expect: "a manager in a tight loop",
                racy: false,
            },
            Wrong {
                name: "FixedArrayList",
                mistake: "a growing list in a fixed-size Array",
                run: |o| contract::ex04::check::<wrong::ex04::FixedArrayList>(o),
                expect: "out of bounds",
                racy: false,
            },
            Wrong {
                name: "GuessedArray",
                mistake: "a list in an Array of a guessed size (10,000) that drops the rest",
                run: |o| contract::ex04::check::<wrong::ex04::GuessedArray>(o),
                expect: "results() gave 10000 values, expected 12500",
                racy: false,
            },
            Wrong {
                name: "RawGetThenSet",
                mistake: "counter as RawValue get then set: two steps",
                run: |o| contract::ex04::check::<wrong::ex04::RawGetThenSet>(o),
                expect: "updates were lost",
                racy: true,
            },
            Wrong {
                name: "ValueGetThenSet",
                mistake: "counter as Value get then set, each under its own lock",
                run: |o| contract::ex04::check::<wrong::ex04::ValueGetThenSet>(o),
                expect: "updates were lost",
                racy: true,
            },
        ],
    },
    Exercise {
        number: 5,
        name: "check interval",
        package: "ex05-check-interval",
        section: "4.1",
        topic: "read the stop flag every k iterations",
        file: "exercises/ex05-check-interval/src/lib.rs",
        source: include_str!("../../ex05-check-interval/src/lib.rs"),
        shipped_hash: 0xd398_156f_ff98_d27f,
        hint: "\
Count iterations, not results: `for i in 0..work.len()`, and when `i % k == 0` read the
flag (count the read) and break if it is set; then `work.step(i)` and count the
iteration. A condition on anything else (how many hits so far, say) may stay false for a
long time, and then the check never happens. When a read says stop, return right away:
no step after it, and no more reads. Return both counts in a Tally.",
        solution_source: include_str!("solutions/ex05.rs"),
        learner: |o| contract::ex05::check(ex05_check_interval::worker, o),
        solution: |o| contract::ex05::check(solutions::ex05::worker, o),
        wrongs: &[
            Wrong {
                name: "counts_hits",
                mistake: "the interval counts hits, not iterations",
                run: |o| contract::ex05::check(wrong::ex05::counts_hits, o),
                expect: "k=7: worker 0 did 8 iterations after the stop",
                racy: false,
            },
            Wrong {
                name: "every_iteration",
                mistake: "reads the flag every iteration",
                run: |o| contract::ex05::check(wrong::ex05::every_iteration, o),
                expect: "k=7: worker 0 read the flag",
                racy: false,
            },
            Wrong {
                name: "never_checks",
                mistake: "a check that never happens",
                run: |o| contract::ex05::check(wrong::ex05::never_checks, o),
                expect: "k=1: worker 0 did",
                racy: false,
            },
            Wrong {
                name: "step_after_stop",
                mistake: "one more step after a read said stop",
                run: |o| contract::ex05::check(wrong::ex05::step_after_stop, o),
                expect: "step(s) after a read of the flag said stop",
                racy: false,
            },
            Wrong {
                name: "stops_but_loops",
                mistake: "stops stepping after the stop but does not return",
                run: |o| contract::ex05::check(wrong::ex05::stops_but_loops, o),
                expect: "after a read had said stop",
                racy: false,
            },
            Wrong {
                name: "one_based_items",
                mistake: "steps items 1..=len instead of 0..len",
                run: |o| contract::ex05::check(wrong::ex05::one_based_items, o),
                expect: "stepped item 1 where another was due",
                racy: false,
            },
        ],
    },
];
