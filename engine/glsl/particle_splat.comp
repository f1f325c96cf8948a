#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#ifdef SPLAT_PACKED
#extension GL_EXT_shader_atomic_int64 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#endif
// Particles rasterised in compute: one invocation per particle slot splats the same soft round
// sprite the point-sprite path draws (particle_draw.vert/.frag) into SplatAccum with integer
// atomics, so the sum is order-independent and exact (no 8-bit rounding per sprite).
//
// Per covered pixel: the sprite's depth (clip z / w at its centre, like a point sprite) is
// tested LESS against scene_depth (the scene's depth attachment, sampled); a pass adds
// rgb * (1 - r^2)^2 in fixed point (SPLAT_SCALE units per 1.0) to
// the pixel's channels (particle_splat.glsl: one packed uint64 atomic with SPLAT_PACKED, else
// three uint atomics). Size rule as the sprite path: diameter in pixels clamped to
// [1.5, 24], colour faded below 1.5 px. Every SPLAT_TILE square a sprite touches is flagged
// in SplatTiles. Dispatch as particles.comp (2D past the group limit).
#include "globals.glsl"
#include "particle_splat.glsl"

layout(local_size_x = 256) in;

struct Particle {              // std430, 64 bytes (particles.comp)
    vec4 pos_life;             // xyz: position (world units), w: seconds left (<= 0: dead)
    vec4 vel_age;
    vec4 color;                // rgba after ramp and fade
    float size;                // world-space diameter
    uint emitter;
    float seed;
    float pad;
};

layout(std430, set = 0, binding = 1) readonly buffer ParticleBuffer {
    Particle particles[];
};

// The scene's depth attachment (D32_SFLOAT, 0..1), sampled in DEPTH_STENCIL_READ_ONLY layout
// after the render pass (the pass writes this descriptor itself).
layout(set = 1, binding = 0) uniform texture2D scene_depth;

#ifdef SPLAT_PACKED
layout(std430, set = 0, binding = 3) buffer SplatAccum {
    uint64_t accum[];          // width * height: R | G << 21 | B << 42, fixed point
};
#else
layout(std430, set = 0, binding = 3) buffer SplatAccum {
    uint accum[];              // width * height * 3: fixed-point R, G, B per pixel
};
#endif

layout(std430, set = 0, binding = 4) buffer SplatTiles {
    uint tiles[];              // one flag per SPLAT_TILE x SPLAT_TILE pixels: 1 = touched
};

layout(push_constant) uniform SplatPush {
    uint width;                // pixels of the target (the buffers' size)
    uint height;
    uint count;                // particle slots to splat
    uint row_stride;           // invocations per dispatch row
    uint tiles_x;              // tiles per row: ceil(width / SPLAT_TILE)
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * pc.row_stride;
    if (i >= pc.count) {
        return;
    }
    vec4 pos_life = particles[i].pos_life;
    vec4 color = particles[i].color;
    if (pos_life.w <= 0.0 || color.a <= 0.0) {
        return;
    }
    vec4 clip = ubo.view_proj * vec4(pos_life.xyz, 1.0);
    // A point is clipped when its vertex leaves the clip volume.
    if (clip.w <= 0.0 || abs(clip.x) > clip.w || abs(clip.y) > clip.w || clip.z < 0.0
            || clip.z > clip.w) {
        return;
    }
    float z = clip.z / clip.w;
    float pixels = particles[i].size * abs(ubo.proj[1][1]) * ubo.viewport.y * 0.5
                   / max(clip.w, 1e-3);
    float d = clamp(pixels, 1.5, 24.0);
    vec3 rgb = color.rgb * (color.a * min(1.0, pixels / 1.5) * SPLAT_SCALE);
    float w = float(pc.width);
    float h = float(pc.height);
    vec2 centre = vec2((clip.x / clip.w * 0.5 + 0.5) * w, (clip.y / clip.w * 0.5 + 0.5) * h);
    float r = d * 0.5;
    // Pixels whose centres lie inside the sprite's square (the point rasterisation rule).
    int x0 = max(int(ceil(centre.x - r - 0.5)), 0);
    int x1 = min(int(ceil(centre.x + r - 0.5)) - 1, int(pc.width) - 1);
    int y0 = max(int(ceil(centre.y - r - 0.5)), 0);
    int y1 = min(int(ceil(centre.y + r - 0.5)) - 1, int(pc.height) - 1);
    if (x0 > x1 || y0 > y1) {
        return;
    }
    // Flag the tiles under the sprite's square (the composite draws only flagged tiles). Same
    // value from every writer: no atomics needed.
    for (int ty = y0 / SPLAT_TILE; ty <= y1 / SPLAT_TILE; ++ty) {
        for (int tx = x0 / SPLAT_TILE; tx <= x1 / SPLAT_TILE; ++tx) {
            tiles[uint(ty) * pc.tiles_x + uint(tx)] = 1U;
        }
    }
    float inv = 2.0 / d;
    for (int y = y0; y <= y1; ++y) {
        float dy = (float(y) + 0.5 - centre.y) * inv;
        float dy2 = dy * dy;
        if (dy2 >= 1.0) {
            continue;
        }
        // Only the pixels of this row inside the disc: |dx| < sqrt(1 - dy^2).
        float half_span = sqrt(1.0 - dy2) / inv;
        int xa = max(x0, int(ceil(centre.x - half_span - 0.5)));
        int xb = min(x1, int(ceil(centre.x + half_span - 0.5)) - 1);
        uint row = uint(y) * pc.width;
        for (int x = xa; x <= xb; ++x) {
            float dx = (float(x) + 0.5 - centre.x) * inv;
            float r2 = dx * dx + dy2;
            if (r2 >= 1.0) {
                continue;
            }
            uint p = row + uint(x);
            if (!(z < texelFetch(scene_depth, ivec2(x, y), 0).r)) {
                continue;                      // behind the scene (depth test LESS)
            }
            float a = 1.0 - r2;
            uvec3 q = uvec3(rgb * (a * a) + 0.5);
#ifdef SPLAT_PACKED
            uint64_t packed = uint64_t(q.r) | (uint64_t(q.g) << 21) | (uint64_t(q.b) << 42);
            if (packed != 0UL) { atomicAdd(accum[p], packed); }
#else
            uint base = p * 3U;
            if (q.r != 0U) { atomicAdd(accum[base], q.r); }
            if (q.g != 0U) { atomicAdd(accum[base + 1U], q.g); }
            if (q.b != 0U) { atomicAdd(accum[base + 2U], q.b); }
#endif
        }
    }
}
