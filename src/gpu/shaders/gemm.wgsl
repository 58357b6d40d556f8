// C = op(A)·op(B), or C += op(A)·op(B): C is m×n, op(A) m×k, op(B) k×n, all row-major; A is
// stored k×m when transposed, B n×k. One thread per output; a 16×16 workgroup steps through k in
// 16-wide tiles of op(A) and op(B) staged in workgroup memory. Each output's sum runs over k in
// order, so results do not depend on the dispatch.

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
