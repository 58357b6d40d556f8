// C = op(A)·op(B), or C += op(A)·op(B): C is m×n, op(A) m×k, op(B) k×n, all row-major; A is
// stored k×m when transposed, B n×k. Three kernels; the first two step through k in 16-wide
// tiles of op(A) and op(B) staged in workgroup memory (for GPUs), the third reads the operands
// in place (for software drivers, at the end of the file):
// - `gemm`: one thread per output, a 16×16 workgroup per 16×16 block of C (many workgroups: for
//   small products, such as a batch's layer);
// - `gemm_blocked`: register blocking, a 16×16 workgroup per 64×64 block of C, each thread
//   computing a 4×4 block from vec4 rows of the tiles: 2 reads of workgroup memory per 16
//   multiply-adds instead of 2 per 1 (for large products).
// Each output's sum runs over k in order, one fma a term, in all three: results depend neither on
// the dispatch nor on the kernel.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // bit 0: A transposed; bit 1: B transposed; bit 2: add to C
    flags: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

// op(A)[i, q], 0 outside the matrix (the ragged edge of a tile)
fn load_a(i: u32, q: u32) -> f32 {
    if (i >= p.m || q >= p.k) {
        return 0.0;
    }
    if ((p.flags & 1u) != 0u) {
        return a[q * p.m + i];
    }
    return a[i * p.k + q];
}

// op(B)[q, j], 0 outside the matrix
fn load_b(q: u32, j: u32) -> f32 {
    if (q >= p.k || j >= p.n) {
        return 0.0;
    }
    if ((p.flags & 2u) != 0u) {
        return b[j * p.k + q];
    }
    return b[q * p.n + j];
}

@compute @workgroup_size(16, 16)
fn gemm(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let row = group.y * TILE + local.y;
    let col = group.x * TILE + local.x;
    var sum = 0.0;
    let tiles = (p.k + TILE - 1u) / TILE;
    for (var t = 0u; t < tiles; t = t + 1u) {
        tile_a[local.y][local.x] = load_a(row, t * TILE + local.x);
        tile_b[local.y][local.x] = load_b(t * TILE + local.y, col);
        workgroupBarrier();
        for (var q = 0u; q < TILE; q = q + 1u) {
            sum = fma(tile_a[local.y][q], tile_b[q][local.x], sum);
        }
        workgroupBarrier();
    }
    if (row < p.m && col < p.n) {
        let o = row * p.n + col;
        if ((p.flags & 4u) != 0u) {
            c[o] = c[o] + sum;
        } else {
            c[o] = sum;
        }
    }
}

// gemm_blocked's tiles, k-major as vec4: tile_av[q * 16 + r] holds op(A)[row0 + 4r .. 4r + 3,
// k0 + q], tile_bv[q * 16 + c] holds op(B)[k0 + q, col0 + 4c .. 4c + 3].
var<workgroup> tile_av: array<vec4<f32>, 256>;
var<workgroup> tile_bv: array<vec4<f32>, 256>;

const BLOCK: u32 = 64u;

@compute @workgroup_size(16, 16)
fn gemm_blocked(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>,
                @builtin(local_invocation_index) thread: u32) {
    let row0 = group.y * BLOCK;
    let col0 = group.x * BLOCK;
    let a_transposed = (p.flags & 1u) != 0u;
    let b_transposed = (p.flags & 2u) != 0u;
    // acc[r] = C[row0 + 4·local.y + r, col0 + 4·local.x .. + 3]
    var acc: array<vec4<f32>, 4>;
    let tiles = (p.k + TILE - 1u) / TILE;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let k0 = t * TILE;
        // 1024 values of each tile, 4 a thread, numbered so that neighbouring threads read
        // neighbouring addresses of the stored matrix
        for (var e = 0u; e < 4u; e = e + 1u) {
            let v = thread + 256u * e;
            var i = v / TILE;
            var q = v % TILE;
            if (a_transposed) {
                i = v % BLOCK;
                q = v / BLOCK;
            }
            tile_av[q * 16u + i / 4u][i % 4u] = load_a(row0 + i, k0 + q);
            var j = v % BLOCK;
            var r = v / BLOCK;
            if (b_transposed) {
                j = v / TILE;
                r = v % TILE;
            }
            tile_bv[r * 16u + j / 4u][j % 4u] = load_b(k0 + r, col0 + j);
        }
        workgroupBarrier();
        for (var q = 0u; q < TILE; q = q + 1u) {
            let a4 = tile_av[q * 16u + local.y];
            let b4 = tile_bv[q * 16u + local.x];
            acc[0] = fma(vec4<f32>(a4.x), b4, acc[0]);
            acc[1] = fma(vec4<f32>(a4.y), b4, acc[1]);
            acc[2] = fma(vec4<f32>(a4.z), b4, acc[2]);
            acc[3] = fma(vec4<f32>(a4.w), b4, acc[3]);
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let row = row0 + 4u * local.y + r;
        for (var x = 0u; x < 4u; x = x + 1u) {
            let col = col0 + 4u * local.x + x;
            if (row < p.m && col < p.n) {
                let o = row * p.n + col;
                if ((p.flags & 4u) != 0u) {
                    c[o] = c[o] + acc[r][x];
                } else {
                    c[o] = acc[r][x];
                }
            }
        }
    }
}

// gemm_rows: for a software driver (lavapipe), where a workgroup runs on one CPU thread with its
// invocations in SIMD lanes, workgroup memory is ordinary memory and each barrier a switch
// between all the invocations: no tiles and no barriers here. A 64-thread workgroup computes 4
// rows × 256 columns of C; thread x computes the 4×4 outputs C[row0 + r, col0 + x + 64c],
// reading op(A) (the same rows for every thread: one address across the lanes) and op(B)
// (neighbouring columns in neighbouring lanes) straight from the storage buffers, whose reads the
// CPU's caches serve. Rows and columns past C's edge read the last row or column (every read
// stays in the matrices, with no branch in the loop) and are not stored.
@compute @workgroup_size(64)
fn gemm_rows(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let row0 = group.y * 4u;
    let col0 = group.x * 256u + local.x;
    let a_transposed = (p.flags & 1u) != 0u;
    let b_transposed = (p.flags & 2u) != 0u;
    // op(A)[i, q] = a[i · a_row + q · a_step]; op(B)[q, j] = b[q · b_step + j · b_col]
    let a_row = select(p.k, 1u, a_transposed);
    let a_step = select(1u, p.m, a_transposed);
    let b_col = select(1u, p.k, b_transposed);
    let b_step = select(p.n, 1u, b_transposed);
    var ia = vec4<u32>(0u);
    var jb = vec4<u32>(0u);
    for (var r = 0u; r < 4u; r = r + 1u) {
        ia[r] = min(row0 + r, p.m - 1u) * a_row;
        jb[r] = min(col0 + 64u * r, p.n - 1u) * b_col;
    }
    // acc[r][c] = C[row0 + r, col0 + 64c]
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < p.k; q = q + 1u) {
        let qa = q * a_step;
        let qb = q * b_step;
        let b4 = vec4<f32>(b[qb + jb.x], b[qb + jb.y], b[qb + jb.z], b[qb + jb.w]);
        acc0 = fma(vec4<f32>(a[ia.x + qa]), b4, acc0);
        acc1 = fma(vec4<f32>(a[ia.y + qa]), b4, acc1);
        acc2 = fma(vec4<f32>(a[ia.z + qa]), b4, acc2);
        acc3 = fma(vec4<f32>(a[ia.w + qa]), b4, acc3);
    }
    let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var r = 0u; r < 4u; r = r + 1u) {
        let row = row0 + r;
        for (var x = 0u; x < 4u; x = x + 1u) {
            let col = col0 + 64u * x;
            if (row < p.m && col < p.n) {
                let o = row * p.n + col;
                if ((p.flags & 4u) != 0u) {
                    c[o] = c[o] + acc[r][x];
                } else {
                    c[o] = acc[r][x];
                }
            }
        }
    }
}
