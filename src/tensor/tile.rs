//! The micro-kernel of nabla's own products ([`PackedB`](super::packed::PackedB) and
//! [`gemm_tn`](super::gemm_tn)): one tile of C, [`MR`] × [`NR`] floats (6 × 32: twelve of the 32
//! AVX-512 registers), to which it adds one rank-1 product per k. Each output element is one fused
//! multiply-add chain over k in order, whatever the tiling and the thread that runs it, so
//! results are deterministic.
//!
//! A and B are read through strides, so one kernel serves a packed B (rows NR apart) and a plain
//! row-major one, and A as stored (A[r][p] at r·lda + p) or transposed (at r + p·lda′).

/// Columns of a panel of B, and of the micro-kernel's tile of C.
pub(super) const NR: usize = 32;
/// Rows of the micro-kernel's tile of C.
pub(super) const MR: usize = 6;
/// Half a panel's width: one AVX-512 register, and the columns that the portable kernel keeps
/// in registers at a time.
const HALF: usize = NR / 2;

/// Whether the CPU has AVX-512F, for [`Tile::run`] (asked once per product, not per tile).
pub(super) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A column of tiles of C (row stride `ldc`, the first `width` ≤ NR columns real) = or += rows
/// of A times `depth` rows of B: A[r][p] = `a[r·a_row + p·a_col]`, B[p][j] = `b[p·ldb + j]`.
#[derive(Clone, Copy)]
pub(super) struct Tile<'a> {
    pub depth: usize,
    pub b: &'a [f32],
    pub ldb: usize,
    pub a: &'a [f32],
    pub a_row: usize,
    pub a_col: usize,
    pub ldc: usize,
    pub width: usize,
    pub accumulate: bool,
}

impl Tile<'_> {
    /// The tiles of a column of C, `m` rows from the start of `a` and `c`, one after another
    /// (the last one shorter when [`MR`] does not divide m), by the AVX-512 kernel when the CPU
    /// has it (`avx512`, detected once by the caller) and the column is [`NR`] wide, else by the
    /// portable one. One call per column, so that the checks and the dispatch are not paid per
    /// tile.
    #[track_caller]
    pub fn run(&self, m: usize, c: &mut [f32], avx512: bool) {
        let (depth, width) = (self.depth, self.width);
        assert!(
            width <= NR
                && (m == 0 || c.len() >= (m - 1) * self.ldc + width)
                && (m == 0 || depth == 0 || self.b.len() >= (depth - 1) * self.ldb + width)
                && (m == 0 || depth == 0 || self.a.len() > (m - 1) * self.a_row + (depth - 1) * self.a_col),
            "tile: A, B or C too short for {m} × {width} over depth {depth}"
        );
        #[cfg(target_arch = "x86_64")]
        if avx512 && width == NR {
            // SAFETY: the CPU has AVX-512F, and A, B and C hold the column (checked above)
            unsafe { self.avx512_column(m, c) };
            return;
        }
        let _ = avx512;
        for row in (0..m).step_by(MR) {
            let tile = Tile { a: &self.a[row * self.a_row..], ..*self };
            let c = &mut c[row * self.ldc..];
            match MR.min(m - row) {
                6 => tile.portable::<6>(c),
                5 => tile.portable::<5>(c),
                4 => tile.portable::<4>(c),
                3 => tile.portable::<3>(c),
                2 => tile.portable::<2>(c),
                _ => tile.portable::<1>(c),
            }
        }
    }

    /// The column's tiles with explicit AVX-512 instructions.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; A, B and C must hold the column (as [`Tile::run`] checks).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512_column(&self, m: usize, c: &mut [f32]) {
        let (a, c) = (self.a.as_ptr(), c.as_mut_ptr());
        let mut row = 0;
        // SAFETY: each tile's rows lie inside the column, which the caller checked
        unsafe {
            while row + MR <= m {
                self.avx512::<MR>(a.add(row * self.a_row), c.add(row * self.ldc));
                row += MR;
            }
            let (a, c) = (a.add(row * self.a_row), c.add(row * self.ldc));
            match m - row {
                5 => self.avx512::<5>(a, c),
                4 => self.avx512::<4>(a, c),
                3 => self.avx512::<3>(a, c),
                2 => self.avx512::<2>(a, c),
                1 => self.avx512::<1>(a, c),
                _ => {}
            }
        }
    }

    /// One tile of R rows with explicit AVX-512 instructions: twelve accumulators, two loads of
    /// B and R broadcasts of A per k. Inlined into [`Tile::avx512_column`], whose target
    /// features it then has.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `a` and `c` must point at a tile of R rows inside the column.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn avx512<const R: usize>(&self, mut a: *const f32, c: *mut f32) {
        use std::arch::x86_64::{
            __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
        };
        let (ldc, ldb, a_row, a_col) = (self.ldc, self.ldb, self.a_row, self.a_col);
        let mut b = self.b.as_ptr();
        // SAFETY: every offset stays inside the tile of A (R × depth), the rows of B (depth × NR)
        // and the tile of C (R × NR at stride ldc)
        unsafe {
            let mut lo: [__m512; R] = [_mm512_setzero_ps(); R];
            let mut hi: [__m512; R] = [_mm512_setzero_ps(); R];
            if self.accumulate {
                for r in 0..R {
                    lo[r] = _mm512_loadu_ps(c.add(r * ldc));
                    hi[r] = _mm512_loadu_ps(c.add(r * ldc + HALF));
                }
            }
            for _ in 0..self.depth {
                let (b_lo, b_hi) = (_mm512_loadu_ps(b), _mm512_loadu_ps(b.add(HALF)));
                for r in 0..R {
                    let x = _mm512_set1_ps(*a.add(r * a_row));
                    lo[r] = _mm512_fmadd_ps(x, b_lo, lo[r]);
                    hi[r] = _mm512_fmadd_ps(x, b_hi, hi[r]);
                }
                // the last step's pointers may point one row past the end: never read
                a = a.wrapping_add(a_col);
                b = b.wrapping_add(ldb);
            }
            for r in 0..R {
                _mm512_storeu_ps(c.add(r * ldc), lo[r]);
                _mm512_storeu_ps(c.add(r * ldc + HALF), hi[r]);
            }
        }
    }

    /// The tile in plain Rust, the same multiply-adds in the same order as [`Tile::avx512`]
    /// (so the same results), compiled for AVX2 + FMA where the CPU has them.
    fn portable<const R: usize>(&self, c: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features that `portable_fma` is compiled for
            unsafe { self.portable_fma::<R>(c) };
            return;
        }
        self.portable_body::<R>(c);
    }

    /// [`Tile::portable_body`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn portable_fma<const R: usize>(&self, c: &mut [f32]) {
        self.portable_body::<R>(c);
    }

    /// [`HALF`] columns at a time, since at a full panel's width the compiler stops vectorising.
    #[inline(always)]
    fn portable_body<const R: usize>(&self, c: &mut [f32]) {
        let (depth, ldc, ldb) = (self.depth, self.ldc, self.ldb);
        for col in (0..self.width).step_by(HALF) {
            let width = HALF.min(self.width - col);
            let mut acc = [[0.0f32; HALF]; R];
            if self.accumulate {
                for (r, acc) in acc.iter_mut().enumerate() {
                    acc.iter_mut().zip(&c[r * ldc + col..r * ldc + col + width]).for_each(|(acc, c)| *acc = *c);
                }
            }
            for p in 0..depth {
                let b = &self.b[p * ldb + col..p * ldb + col + width];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = self.a[r * self.a_row + p * self.a_col];
                    for (acc, b) in acc.iter_mut().zip(b) {
                        *acc = x.mul_add(*b, *acc);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                c[r * ldc + col..r * ldc + col + width].iter_mut().zip(acc).for_each(|(c, acc)| *c = *acc);
            }
        }
    }
}
