//! The work the lecture's examples give their workers.

/// Trial division, as the lecture's `isPrime` (Example 27.1) and the `all(n % i != 0 ...)`
/// test of Example 27.2 (which agree for every `n >= 2`, the only numbers either example tests).
pub fn is_prime(n: u64) -> bool {
    n >= 2 && (2..=n.isqrt()).all(|i| n % i != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_sieve() {
        const N: usize = 10_000;
        let mut composite = vec![false; N];
        for i in 2..N {
            if !composite[i] {
                for j in (i * i..N).step_by(i) {
                    composite[j] = true;
                }
            }
        }
        for (n, &c) in composite.iter().enumerate() {
            assert_eq!(is_prime(n as u64), n >= 2 && !c, "n = {n}");
        }
    }
}
