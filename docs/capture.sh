#!/usr/bin/env bash
# Runs every command whose output the book shows and stores that output in docs/captured/,
# with the machine and the date on the first line. The pages include these files, so the
# book shows what a real run printed. Run it from anywhere; it takes a few minutes.
#   docs/capture.sh            # everything
#   docs/capture.sh poison     # only the captures whose name contains "poison"
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/captured
mkdir -p "$out"
only=${1:-}
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
machine="machine: nproc $(nproc), ${model:-unknown CPU}, Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"

# capture NAME SHOWN-COMMAND -- COMMAND...: runs COMMAND, shows SHOWN-COMMAND in the file.
capture() {
    local name=$1 shown=$2
    shift 3
    [[ -n $only && $name != *"$only"* ]] && return 0
    echo "capturing $name: $shown" >&2
    local status=0
    { echo "$machine"; echo "\$ $shown"; "$@" 2>&1 || status=$?; } > "$out/$name.txt"
    if [[ $status -ne 0 ]]; then
        echo "(exit status $status)" >> "$out/$name.txt"
    fi
}

# extract NAME FROM START-REGEX END-REGEX: copies the first two lines of captured/FROM.txt (the
# machine and the command), then its lines from the first match of START-REGEX up to, not
# including, the next line matching END-REGEX.
extract() {
    local name=$1 from=$2 start=$3 end=$4
    [[ -n $only && $name != *"$only"* && $from != *"$only"* ]] && return 0
    awk -v s="$start" -v e="$end" '
        NR <= 2 { print; next }
        on && $0 ~ e { exit }
        $0 ~ s { on = 1 }
        on { print }
    ' "$out/$from.txt" > "$out/$name.txt"
}

# rows NAME FROM REGEX: copies the first four lines of captured/FROM.txt (the machine, the
# command, a table's header and its rule), then each row whose first line matches REGEX, with
# its continuation lines (they start with a space). For part 2 of lecture-claims: one
# section's workloads, Rust beside Python, for that section's page.
rows() {
    local name=$1 from=$2 pick=$3
    [[ -n $only && $name != *"$only"* && $from != *"$only"* ]] && return 0
    awk -v p="$pick" '
        NR <= 4 { print; next }
        /^[^ ]/ { on = ($0 ~ p) }
        on { print }
    ' "$out/$from.txt" > "$out/$name.txt"
}

run() { cargo run -q "$@"; }
cargo build -q -p lecture-claims --examples --bins
for c in poison-pill early-exit shared-state check-frequency; do
    if [[ -f crates/$c/Cargo.toml ]]; then cargo build -q -p "$c" || echo "warning: $c does not build" >&2; fi
done

capture python_to_rust "cargo run -p lecture-claims --example python_to_rust" -- \
    run -p lecture-claims --example python_to_rust

if command -v python3 >/dev/null; then
    capture what_python_does "python3 crates/lecture-claims/python/what_python_does.py" -- \
        python3 crates/lecture-claims/python/what_python_does.py
fi

capture poison_pill "cargo run -p poison-pill" -- run -p poison-pill
for mode in terminate side-channel none; do
    capture "poison_pill_${mode//-/_}" "cargo run -p poison-pill -- --shutdown $mode" -- \
        run -p poison-pill -- --shutdown "$mode"
done

# Timelines: the text lanes and, from the very same run, the SVG the page shows (checked in
# under docs/src/timelines/, so the book serves it; a test parses it).
mkdir -p docs/src/timelines
capture timeline_poison_pill \
    "cargo run -p poison-pill -- --shutdown pill --timeline --timeline-svg docs/src/timelines/poison_pill.svg" -- \
    env COLUMNS=100 cargo run -q -p poison-pill -- --shutdown pill --timeline \
    --timeline-svg docs/src/timelines/poison_pill.svg
extract timeline_poison_pill_lanes timeline_poison_pill '^    Timeline:' '^Try:'
capture timeline_poison_pill_side_channel \
    "cargo run -p poison-pill -- --shutdown side-channel --timeline --timeline-svg docs/src/timelines/poison_pill_side_channel.svg" -- \
    env COLUMNS=100 cargo run -q -p poison-pill -- --shutdown side-channel --timeline \
    --timeline-svg docs/src/timelines/poison_pill_side_channel.svg
extract timeline_poison_pill_side_channel_lanes timeline_poison_pill_side_channel '^    Timeline:' '^Try:'
capture class_poison_pill "cargo run -p poison-pill -- --class < /dev/null" -- \
    env COLUMNS=100 cargo run -q -p poison-pill -- --class < /dev/null
# The page shows the class mode in two parts: the pill's step, then the two that lose tasks.
extract class_poison_pill_step1 class_poison_pill '^Lecture 27' '^Step 2 of'
extract class_poison_pill_steps23 class_poison_pill '^Step 2 of' '^NO END'

capture early_exit "cargo run -p early-exit" -- run -p early-exit
extract early_exit_example early_exit '^== Example 27\.1' '^== '
extract early_exit_search early_exit '^== 2[.]1 A search' '^== 2[.]1 The price'
extract early_exit_checks early_exit '^== 2[.]1 The price' '^What to notice'
# The long search again with the atomic flag: what early exit saves when a read costs a load.
capture early_exit_atomic "cargo run -p early-exit -- --no-early-exit --needle 350000 --flag atomic" -- \
    run -p early-exit -- --no-early-exit --needle 350000 --flag atomic
extract early_exit_atomic_search early_exit_atomic '^== 2[.]1 A search' '^What to notice'

# early-exit's timeline: a match a fifth of the way into w0's range, so the others are busy
# when the flag rises; the text lanes and, from the same run, the SVG the page shows.
capture timeline_early_exit \
    "cargo run -p early-exit -- --no-early-exit --needle 20000 --reps 1 --timeline --timeline-svg docs/src/timelines/early_exit.svg" -- \
    env COLUMNS=100 cargo run -q -p early-exit -- --no-early-exit --needle 20000 --reps 1 --timeline \
    --timeline-svg docs/src/timelines/early_exit.svg
extract timeline_early_exit_lanes timeline_early_exit '^    Timeline of this' '^NO END'
capture class_early_exit "cargo run -p early-exit -- --class < /dev/null" -- \
    env COLUMNS=100 cargo run -q -p early-exit -- --class < /dev/null
extract class_early_exit_step1 class_early_exit '^Lecture 27' '^Step 2 of'
extract class_early_exit_steps23 class_early_exit '^Step 2 of' '^NO END'

capture shared_state "cargo run -p shared-state" -- run -p shared-state
extract shared_state_access shared_state '^1\. One access' '^2\. The bottleneck'
extract shared_state_bottleneck shared_state '^2\. The bottleneck' '^3\. Correctness'
extract shared_state_correctness shared_state '^3\. Correctness' '^What to notice'

capture check_frequency "cargo run -p check-frequency" -- run -p check-frequency
extract check_frequency_example check_frequency '^Example 27\.2' '^Concept 4\.1'
extract check_frequency_tight check_frequency '^Concept 4[.]1, the sweep with tight' '^  tight work: throughput'
extract check_frequency_heavy check_frequency '^Concept 4[.]1, the sweep with heavy' '^  heavy work: throughput'
extract check_frequency_reads check_frequency '^One flag read' '^What to notice'

capture lecture_claims_quick "cargo run -p lecture-claims -- --quick" -- run -p lecture-claims -- --quick
# Parts of that one run, so every page that quotes a verdict quotes the same run.
extract lecture_claims_workloads lecture_claims_quick '^section +workload' '^   [(]figures only'
extract lecture_claims_verdicts lecture_claims_quick '^3[.] The claims measured' '^Summary of this run'
extract lecture_claims_summary lecture_claims_quick '^Summary of this run' '^$'
# Each section's lines of part 3 (Rust's verdict and Python's, same run), for its page.
extract lecture_claims_verdict_1_1 lecture_claims_verdicts '^1[.]1 ' '^3[.]1 '
extract lecture_claims_verdict_3_1 lecture_claims_verdicts '^3[.]1 ' '^4[.]1 '
extract lecture_claims_verdict_4_1 lecture_claims_verdicts '^4[.]1 ' '^Example 27'
extract lecture_claims_verdict_27_2 lecture_claims_verdicts '^Example 27[.]2 ' '^5[.]1 '
extract lecture_claims_verdict_5_1 lecture_claims_verdicts '^5[.]1 ' '^$'
# Each section's rows of part 2 (the workloads, Rust and Python side by side), for its page.
rows lecture_claims_workloads_1_1 lecture_claims_workloads '^1[.]1 '
rows lecture_claims_workloads_2_1 lecture_claims_workloads '^(2[.]1 |3[.]1 +(synchronized|raw))'
rows lecture_claims_workloads_27_1 lecture_claims_workloads '^Example 27[.]1 '
rows lecture_claims_workloads_3_1 lecture_claims_workloads '^3[.]1 '
rows lecture_claims_workloads_27_2 lecture_claims_workloads '^Example 27[.]2 '
rows lecture_claims_workloads_5_1 lecture_claims_workloads '^5[.]1 '

capture cost_ladder "cargo run -p lecture-claims -- --ladder" -- run -p lecture-claims -- --ladder
# With iceoryx2's rows where its build can find libclang (see crates/ipc-peers/README.md).
peers_features=
if ldconfig -p 2>/dev/null | grep -E 'libclang(-[0-9.]+)?\.so' >/dev/null; then peers_features=" --features iceoryx2"; fi
capture ipc_peers "cargo bench -p ipc-peers$peers_features" -- bash -c "cargo bench -q -p ipc-peers$peers_features 2>/dev/null"
extract ipc_peers_one_cpu ipc_peers '^u64 round trip .*both on CPU 0' '^u64 round trip .*CPU 1'
extract ipc_peers_two_cpus ipc_peers '^u64 round trip .*CPU 1' '^one process'
extract ipc_peers_local ipc_peers '^one process' '^issue 16'
extract ipc_peers_targets ipc_peers '^issue 16' '^total time'

# shared-state's timeline: the bottleneck's first run of (a) with 4 workers, text and SVG from
# the same run (the SVG is checked in under docs/src/timelines/; a test parses it).
capture timeline_shared_state \
    "cargo run -p shared-state -- --timeline --timeline-svg docs/src/timelines/shared_state.svg" -- \
    env COLUMNS=100 cargo run -q -p shared-state -- --timeline \
    --timeline-svg docs/src/timelines/shared_state.svg
extract timeline_shared_state_lanes timeline_shared_state '^    Timeline of' '^    [(]timeline written'
capture class_shared_state "cargo run -p shared-state -- --class < /dev/null" -- \
    env COLUMNS=100 cargo run -q -p shared-state -- --class < /dev/null
extract class_shared_state_step1 class_shared_state '^Lecture 27' '^Step 2 of'
extract class_shared_state_steps23 class_shared_state '^Step 2 of' '^NO END'

# check-frequency's timelines: Example 27.2 with the flag raised by w0, `count % 10` then
# `i % 10`, one lane per worker; the SVGs under docs/src/timelines/.
capture timeline_check_frequency \
    "cargo run -p check-frequency -- --timeline --timeline-svg docs/src/timelines/check_frequency.svg" -- \
    env COLUMNS=100 cargo run -q -p check-frequency -- --timeline \
    --timeline-svg docs/src/timelines/check_frequency.svg
extract timeline_check_frequency_lecture timeline_check_frequency '^    Timeline of `count' '^[(]timeline of this run'
extract timeline_check_frequency_corrected timeline_check_frequency '^    Timeline of `i %' '^NO-END-MARK$'
capture timeline_check_frequency_svg_corrected \
    "cargo run -p check-frequency -- --check corrected --timeline-svg docs/src/timelines/check_frequency_corrected.svg" -- \
    cargo run -q -p check-frequency -- --check corrected \
    --timeline-svg docs/src/timelines/check_frequency_corrected.svg
capture check_frequency_class "cargo run -p check-frequency -- --class" -- \
    bash -c 'COLUMNS=100 cargo run -q -p check-frequency -- --class </dev/null'
