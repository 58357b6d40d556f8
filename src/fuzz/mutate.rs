//! The mutator: seeded changes to a file's bytes, from blind ones (bit flips, truncations,
//! splices) to ones that know where a format keeps its sizes (lying header integers and numbers
//! in text).

use crate::rng::Rng;

/// Integers a lying size field is set to: zero, one, the edges of the signed and unsigned widths,
/// and sizes just past what memory holds.
const INTEGERS: [u64; 14] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Numbers a lying number in text is set to.
const NUMBERS: [&str; 18] = [
    "0",
    "1",
    "-1",
    "2",
    "255",
    "65536",
    "100000000",
    "1000000000",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e9",
    "1e38",
    "3.4e38",
    "-0.0",
    "NaN",
];

/// A random index below `n` (0 when `n` is 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 { 0 } else { rng.below(n) }
}

/// A random range of `bytes` of at most `max` bytes: (start, end).
fn range(rng: &mut Rng, len: usize, max: usize) -> (usize, usize) {
    let start = below(rng, len + 1);
    let end = start + below(rng, (len - start).min(max) + 1);
    (start, end)
}

/// Applies 1 to 4 blind mutations to `bytes`; `words` are offsets of header integers (a lying
/// size is written there more often than elsewhere), `big_endian` their byte order.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, words: &[usize], big_endian: bool) {
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, bytes, words, big_endian);
    }
}

fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>, words: &[usize], big_endian: bool) {
    let len = bytes.len();
    match rng.below(10) {
        // a bit flip
        0 | 1 if len > 0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
        }
        // a byte set to a random or an edge value
        2 if len > 0 => {
            let at = rng.below(len);
            bytes[at] = [0, 1, 0x7f, 0x80, 0xff, rng.next_u64() as u8][rng.below(6)];
        }
        // truncation
        3 => bytes.truncate(below(rng, len)),
        // a range copied over another place, or duplicated in place
        4 => {
            let (a, b) = range(rng, len, 64);
            let piece = bytes[a..b].to_vec();
            if rng.below(2) == 0 {
                let at = below(rng, len + 1);
                bytes.splice(at..at, piece);
            } else {
                let at = below(rng, len.saturating_sub(piece.len()) + 1);
                let end = (at + piece.len()).min(len);
                bytes[at..end].copy_from_slice(&piece[..end - at]);
            }
        }
        // a range deleted
        5 => {
            let (a, b) = range(rng, len, 64);
            bytes.drain(a..b);
        }
        // random bytes inserted
        6 => {
            let at = below(rng, len + 1);
            let n = 1 + rng.below(16);
            let fresh: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(at..at, fresh);
        }
        // a lying integer, at a header word or anywhere
        7 | 8 => {
            let at =
                if !words.is_empty() && rng.below(4) != 0 { words[rng.below(words.len())] } else { below(rng, len) };
            let value = if rng.below(4) == 0 { rng.next_u64() } else { INTEGERS[rng.below(INTEGERS.len())] };
            let width = if rng.below(2) == 0 { 4 } else { 8 };
            let word = if big_endian { value.to_be_bytes() } else { value.to_le_bytes() };
            let word = if big_endian { &word[8 - width..] } else { &word[..width] };
            let end = (at + width).min(len);
            if at < end {
                bytes[at..end].copy_from_slice(&word[..end - at]);
            }
        }
        // a lying number in text
        _ => lie_in_text(rng, bytes),
    }
}

/// Replaces one run of ASCII digits (a size, a shape entry, an offset) by an edge number.
pub fn lie_in_text(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if runs.is_empty() {
        return;
    }
    let (a, b) = runs[rng.below(runs.len())];
    let number = NUMBERS[rng.below(NUMBERS.len())];
    bytes.splice(a..b, number.bytes());
}

/// Applies 1 to 3 mutations to text, mostly lying numbers and whole lines moved, duplicated or
/// dropped, sometimes a blind one.
pub fn mutate_text(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 | 1 => lie_in_text(rng, bytes),
            2 | 3 => {
                let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                let i = below(rng, n);
                match rng.below(3) {
                    0 if n > 0 => {
                        lines.remove(i);
                    }
                    1 if n > 0 => {
                        let line = lines[i].clone();
                        lines.insert(below(rng, n + 1), line);
                    }
                    _ if n > 1 => lines.swap(i, rng.below(n)),
                    _ => {}
                }
                *bytes = lines.join(&b'\n');
            }
            _ => mutate_once(rng, bytes, &[], false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_a_function_of_the_seed_and_change_the_input() {
        let input: Vec<u8> = b"name = \"x\"\ninput = [784]\nout = 10\n".to_vec();
        let mut changed = 0;
        for case in 0..200 {
            let (mut a, mut b) = (input.clone(), input.clone());
            mutate(&mut Rng::derive(7, case), &mut a, &[0, 4], true);
            mutate(&mut Rng::derive(7, case), &mut b, &[0, 4], true);
            assert_eq!(a, b);
            changed += usize::from(a != input);
        }
        assert!(changed > 180, "{changed} of 200 changed");
    }
}
