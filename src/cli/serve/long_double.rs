//! INCRBYFLOAT's arithmetic, exactly as Redis does it on x86-64: the
//! operands read as C's `strtold` reads them into an x87 `long double`
//! (a 64-bit significand, correctly rounded), added with the result
//! rounded to 64 bits again, and the sum printed as `printf("%.17Lf")`
//! prints it, trailing zeros cut (Redis's `ld2string`, human mode). An
//! `f64` is not enough: 17 digits after the point show the difference
//! (`10.5 + 0.1` is `10.6` in a long double, `10.59999999999999964` in
//! a double).
//!
//! Everything is done on exact binary values with a small unsigned big
//! integer ([`Big`]), so no rounding happens but the two the C code does.
//!
//! Invariants: nothing here panics on any input; an input is refused
//! where Redis's `string2ld` refuses it (empty, 5120 bytes or more, a
//! leading space, anything after the number, NaN, or a value out of the
//! long double's range, which `strtold` reports with ERANGE); the text of
//! a result is at most 4,952 bytes (the largest long double has 4,933
//! integer digits).
//!
//! Over 500 lines because exact parsing, rounding and printing of a
//! 64-bit-significand float need their own small big integer; they are
//! one piece of arithmetic and read best together.

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: an operand must be shorter.
const MAX_CHARS: usize = 5 * 1024;
/// Bits of the significand.
const PRECISION: i64 = 64;
/// The exponent of the smallest normal value's leading bit.
const MIN_EXP: i64 = -16382;
/// The exponent of the largest finite value's leading bit.
const MAX_EXP: i64 = 16383;
/// Digits after the point in Redis's `%.17Lf`.
const DECIMALS: u32 = 17;

/// A long double: a finite value, or an infinity (NaN is never kept: it
/// is refused when read and an error when made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^neg × sig × 2^exp`; zero when `sig` is zero.
    Finite { neg: bool, sig: u64, exp: i64 },
    /// An infinity.
    Infinite { neg: bool },
}

/// Why a sum is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct NotFinite;

impl LongDouble {
    /// Reads `bytes` as Redis's `string2ld` does; `None` when it refuses.
    pub fn parse(bytes: &[u8]) -> Option<LongDouble> {
        if bytes.is_empty() || bytes.len() >= MAX_CHARS {
            return None;
        }
        // C reads up to the first NUL; what is after it is not seen.
        let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
        if text
            .first()
            .is_some_and(|b| b.is_ascii_whitespace() || *b == 0x0b)
        {
            return None;
        }
        let (neg, rest) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        // strtold of "" converts nothing, and its end is the NUL: zero.
        if text.is_empty() {
            return Some(zero(false));
        }
        let lower = rest.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(LongDouble::Infinite { neg });
        }
        let exact = if lower.len() > 2 && lower.starts_with(b"0x") {
            parse_hex(&lower[2..])?
        } else {
            parse_decimal(&lower)?
        };
        match exact.round() {
            // ERANGE with HUGE_VAL, or with a result of zero: refused.
            Rounded::Overflow | Rounded::Underflow => None,
            Rounded::Value(sig, exp) => Some(LongDouble::Finite { neg, sig, exp }),
        }
    }

    /// `self + other`, rounded to a long double.
    pub fn add(&self, other: &LongDouble) -> Result<LongDouble, NotFinite> {
        let (
            LongDouble::Finite {
                neg: an,
                sig: a,
                exp: ae,
            },
            LongDouble::Finite {
                neg: bn,
                sig: b,
                exp: be,
            },
        ) = (self, other)
        else {
            // inf + anything is inf or NaN: either way refused.
            return Err(NotFinite);
        };
        let low = (*ae).min(*be);
        let big_a = Big::from_u64(*a).shl(shift(ae - low));
        let big_b = Big::from_u64(*b).shl(shift(be - low));
        let (neg, mag) = if an == bn {
            (*an, big_a.add(&big_b))
        } else {
            match big_a.cmp(&big_b) {
                // x + (-x) is +0 when rounding to nearest.
                Ordering::Equal => return Ok(zero(false)),
                Ordering::Greater => (*an, big_a.sub(&big_b)),
                Ordering::Less => (*bn, big_b.sub(&big_a)),
            }
        };
        let exact = Exact {
            mag,
            exp: low,
            sticky: false,
        };
        match exact.round() {
            Rounded::Overflow => Err(NotFinite),
            Rounded::Underflow => Ok(zero(neg)),
            Rounded::Value(sig, exp) => Ok(LongDouble::Finite { neg, sig, exp }),
        }
    }

    /// The text Redis stores and replies: `%.17Lf`, trailing zeros and a
    /// bare point cut, `-0` made `0`. An infinity has none (never asked).
    pub fn to_text(&self) -> Option<String> {
        let LongDouble::Finite { neg, sig, exp } = self else {
            return None;
        };
        let (int_part, frac) = if *exp >= 0 {
            (Big::from_u64(*sig).shl(shift(*exp)).to_decimal(), 0u128)
        } else {
            // sig × 10^17 / 2^k, rounded half to even (glibc's rounding).
            let scaled = u128::from(*sig) * 10u128.pow(DECIMALS);
            let k = exp.unsigned_abs();
            let q = if k >= 128 { 0 } else { scaled >> k };
            let rem = if k >= 128 {
                scaled
            } else {
                scaled & ((1u128 << k) - 1)
            };
            let half_cmp = if k > 128 {
                Ordering::Less
            } else if k == 128 {
                rem.cmp(&(1u128 << 127))
            } else {
                rem.cmp(&(1u128 << (k - 1)))
            };
            let up = half_cmp == Ordering::Greater || half_cmp == Ordering::Equal && q & 1 == 1;
            let q = q + u128::from(up);
            let unit = 10u128.pow(DECIMALS);
            ((q / unit).to_string(), q % unit)
        };
        let mut text = String::new();
        if *neg {
            text.push('-');
        }
        text.push_str(&int_part);
        let digits = format!("{frac:017}");
        let kept = digits.trim_end_matches('0');
        if !kept.is_empty() {
            text.push('.');
            text.push_str(kept);
        }
        if text == "-0" {
            text = "0".to_owned();
        }
        Some(text)
    }
}

fn zero(neg: bool) -> LongDouble {
    LongDouble::Finite {
        neg,
        sig: 0,
        exp: 0,
    }
}

/// An exponent difference as a shift; they are bounded by the range.
fn shift(n: i64) -> u64 {
    n.max(0) as u64
}

/// An exact (or, with `sticky`, a truncated) non-negative value:
/// `mag × 2^exp`, plus something smaller than `2^exp` when `sticky`.
struct Exact {
    mag: Big,
    exp: i64,
    sticky: bool,
}

enum Rounded {
    /// The significand and exponent (`sig × 2^exp`).
    Value(u64, i64),
    /// Past the largest long double.
    Overflow,
    /// A value that is not zero, rounded to zero.
    Underflow,
}

impl Exact {
    /// Rounds to a long double (64 bits, fewer below the normal range),
    /// to nearest, ties to even.
    fn round(self) -> Rounded {
        let len = self.mag.bits() as i64;
        if len == 0 {
            return if self.sticky {
                Rounded::Underflow
            } else {
                Rounded::Value(0, 0)
            };
        }
        let lead = self.exp + len - 1;
        if lead > MAX_EXP {
            return Rounded::Overflow;
        }
        // The last bit kept: the 64th from the leading one, but never
        // below the smallest subnormal's.
        let unit = (lead - (PRECISION - 1)).max(MIN_EXP - (PRECISION - 1));
        let drop = unit - self.exp;
        if drop <= 0 {
            let sig = self.mag.shl(drop.unsigned_abs()).low_u64();
            return Rounded::Value(sig, unit);
        }
        let drop = drop as u64;
        let (kept, _) = self.mag.shr(drop);
        let half = self.mag.bit(drop - 1);
        let below_half = self.mag.any_below(drop - 1) || self.sticky;
        let kept = kept.low_u64();
        let up = half && (below_half || kept & 1 == 1);
        let (sig, unit) = match kept.checked_add(u64::from(up)) {
            Some(sig) => (sig, unit),
            // Rounded up to 2^64: one bit more to the left.
            None => (1 << 63, unit + 1),
        };
        if sig == 0 {
            return Rounded::Underflow;
        }
        if unit + 63 - i64::from(sig.leading_zeros()) > MAX_EXP {
            return Rounded::Overflow;
        }
        Rounded::Value(sig, unit)
    }
}

/// Decimal digits with an optional point and exponent (lowercase).
fn parse_decimal(text: &[u8]) -> Option<Exact> {
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (digits, frac_len) = split_point(mantissa, |b| b.is_ascii_digit())?;
    let mut e10 = exponent.map_or(Some(0), parse_exponent)? - frac_len as i64;
    let mut mag = Big::zero();
    for d in digits {
        mag = mag.mul_small(10).add_small(u32::from(d - b'0'));
    }
    if mag.is_zero() {
        return Some(Exact {
            mag,
            exp: 0,
            sticky: false,
        });
    }
    // Far outside the range either way: no need to build 10^e10.
    let max = 2 * MAX_CHARS as i64 + 5000;
    if e10 > max {
        e10 = max;
    }
    if e10 < -(max + 16500) {
        return Some(Exact {
            mag: Big::zero(),
            exp: 0,
            sticky: true,
        });
    }
    if e10 >= 0 {
        return Some(Exact {
            mag: mag.mul(&Big::pow10(e10 as u64)),
            exp: 0,
            sticky: false,
        });
    }
    // mag / 10^m: a quotient of about 70 bits and whether a rest is left.
    let den = Big::pow10(e10.unsigned_abs());
    let s = (70 + den.bits() as i64 - mag.bits() as i64).max(0) as u64;
    let num = mag.shl(s);
    let bits = (num.bits() + 1).saturating_sub(den.bits()).max(1);
    let (q, rest) = num.div_small_quotient(&den, bits);
    Some(Exact {
        mag: q,
        exp: -(s as i64),
        sticky: rest,
    })
}

/// Hex digits with an optional point and a binary exponent (`p`).
fn parse_hex(text: &[u8]) -> Option<Exact> {
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'p') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (digits, frac_len) = split_point(mantissa, |b| b.is_ascii_hexdigit())?;
    let e2 = exponent.map_or(Some(0), parse_exponent)? - 4 * frac_len as i64;
    let mut mag = Big::zero();
    for d in digits {
        let v = (d as char).to_digit(16)?;
        mag = mag.mul_small(16).add_small(v);
    }
    let max = 4 * MAX_CHARS as i64 + 17000;
    Some(Exact {
        mag,
        exp: e2.clamp(-max, max),
        sticky: false,
    })
}

/// The digits of `mantissa` without its point, and how many follow the
/// point; `None` unless it is digits with at most one point and at
/// least one digit.
fn split_point(mantissa: &[u8], digit: impl Fn(u8) -> bool) -> Option<(Vec<u8>, usize)> {
    let mut digits = Vec::with_capacity(mantissa.len());
    let mut frac = None;
    for &b in mantissa {
        match b {
            b'.' if frac.is_none() => frac = Some(0),
            b if digit(b) => {
                digits.push(b);
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            _ => return None,
        }
    }
    if digits.is_empty() {
        return None;
    }
    Some((digits, frac.unwrap_or(0)))
}

/// A signed decimal exponent, saturating far past any range.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        n = (n * 10 + i64::from(d - b'0')).min(1 << 40);
    }
    Some(if neg { -n } else { n })
}

/// An unsigned big integer, little-endian 32-bit limbs, no leading zero
/// limb.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(n: u64) -> Big {
        Big(vec![n as u32, (n >> 32) as u32]).trimmed()
    }

    fn trimmed(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(top) => 32 * (self.0.len() as u64 - 1) + u64::from(32 - top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        self.0.get(limb).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = (i / 32) as usize;
        if self.0.iter().take(whole).any(|&l| l != 0) {
            return true;
        }
        let part = i % 32;
        part > 0
            && self
                .0
                .get(whole)
                .is_some_and(|l| l & ((1 << part) - 1) != 0)
    }

    fn low_u64(&self) -> u64 {
        let lo = u64::from(self.0.first().copied().unwrap_or(0));
        let hi = u64::from(self.0.get(1).copied().unwrap_or(0));
        lo | hi << 32
    }

    fn mul_small(&self, m: u32) -> Big {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry = 0u64;
        for &l in &self.0 {
            let v = u64::from(l) * u64::from(m) + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        Big(out).trimmed()
    }

    fn add_small(&self, a: u32) -> Big {
        self.add(&Big::from_u64(u64::from(a)))
    }

    fn add(&self, other: &Big) -> Big {
        let n = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        Big(out).trimmed()
    }

    /// `self - other`, which must not be larger (it is not, where used).
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v =
                i64::from(self.0[i]) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            if v < 0 {
                v += 1 << 32;
            }
            out.push(v as u32);
        }
        Big(out).trimmed()
    }

    fn mul(&self, other: &Big) -> Big {
        let mut out = vec![0u32; self.0.len() + other.0.len() + 1];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.0.iter().enumerate() {
                let v = u64::from(out[i + j]) + u64::from(a) * u64::from(b) + carry;
                out[i + j] = v as u32;
                carry = v >> 32;
            }
            let mut k = i + other.0.len();
            while carry != 0 && k < out.len() {
                let v = u64::from(out[k]) + carry;
                out[k] = v as u32;
                carry = v >> 32;
                k += 1;
            }
        }
        Big(out).trimmed()
    }

    fn pow10(n: u64) -> Big {
        let mut out = Big::from_u64(1);
        let mut left = n;
        while left >= 9 {
            out = out.mul_small(1_000_000_000);
            left -= 9;
        }
        out.mul_small(10u32.pow(left as u32))
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        out.push(carry);
        Big(out).trimmed()
    }

    /// `self >> n`, and whether a set bit was shifted out.
    fn shr(&self, n: u64) -> (Big, bool) {
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        let lost = self.any_below(n);
        if limbs >= self.0.len() {
            return (Big::zero(), lost);
        }
        let rest = &self.0[limbs..];
        let mut out = Vec::with_capacity(rest.len());
        for (i, &l) in rest.iter().enumerate() {
            if bits == 0 {
                out.push(l);
            } else {
                let next = rest.get(i + 1).copied().unwrap_or(0);
                out.push(l >> bits | next << (32 - bits));
            }
        }
        (Big(out).trimmed(), lost)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self / den` when the quotient is below `2^bits`, and whether a
    /// remainder is left: shift and subtract, one quotient bit at a time.
    fn div_small_quotient(&self, den: &Big, bits: u64) -> (Big, bool) {
        let mut rest = self.clone();
        let mut q = Big::zero();
        for i in (0..bits).rev() {
            let part = den.shl(i);
            if rest.cmp(&part) != Ordering::Less {
                rest = rest.sub(&part);
                q = q.add(&Big::from_u64(1).shl(i));
            }
        }
        (q, !rest.is_zero())
    }

    /// Decimal digits ("0" for zero).
    fn to_decimal(&self) -> String {
        let mut chunks = Vec::new();
        let mut n = self.0.clone();
        while !n.is_empty() {
            let mut rem = 0u64;
            for l in n.iter_mut().rev() {
                let v = rem << 32 | u64::from(*l);
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while n.last() == Some(&0) {
                n.pop();
            }
        }
        let Some((top, rest)) = chunks.split_last() else {
            return "0".to_owned();
        };
        let mut text = top.to_string();
        for c in rest.iter().rev() {
            text.push_str(&format!("{c:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests;
