//! Wide SIMD for nabla's own loops. The crate is built for the baseline x86-64 (SSE2), so that
//! one binary runs on any x86-64 CPU; [`simd_kernel!`] compiles a hot loop a second and a third
//! time for AVX-512 and for AVX2 + FMA and picks one at run time, as the gemm crate does for its
//! kernels. Helpers the loop calls must be `#[inline(always)]` to be compiled wide with it.

/// Defines `fn name(args)` whose body runs compiled for AVX-512 or AVX2 + FMA when the CPU has
/// them, and for the baseline otherwise. The three copies compute the same operations in the same
/// order, elementwise, so results do not depend on the copy.
macro_rules! simd_kernel {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $body
                if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
                    // SAFETY: the CPU has the features that `avx512` was compiled for
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features that `avx2` was compiled for
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}

pub(crate) use simd_kernel;
