#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
// Tiled deferred lighting: the compute twin of the light volumes (light_volume.vert/.frag).
// One workgroup per LIGHT_TILE x LIGHT_TILE pixels reads the packed G-buffer surface (after the
// deferred render pass), finds the tile's depth range, culls the lights against the tile in
// batches of one light per invocation (screen rectangle of the light's silhouette, the tile's
// depth range against the light volume's depth test and reach) into shared memory, and every
// pixel sums its tile's lights with the light volumes' maths: the silhouette (c2 < 1), the
// depth test of the volume (its far side, GREATER_OR_EQUAL), distance falloff and Lambert,
// and the glow around the light where nothing hides it. Each invocation shades PIXELS pixels
// of one column of the tile, ROWS rows apart, so every read of the shared list serves PIXELS
// pixels: on llvmpipe each shared-memory load is a loop over the SIMD lanes (four pixels an
// invocation halved the dispatch there), on a GPU it is a broadcast read either way. The sum
// goes to LightAccum (one uint a pixel: RGB 10:10:10 unorm, clamped at 1.0: the UNORM target
// saturates there anyway) and the tile's flag to LightTiles (1: some light was listed);
// light_composite.* adds the flagged tiles to the picture. Every flag and every pixel of a
// flagged tile is written each dispatch (no clear needed).
#include "globals.glsl"

#ifndef LIGHT_TILE
#define LIGHT_TILE 16
#endif
#define PIXELS 4               // pixels per invocation (a column of PIXELS rows)
const uint ROWS = LIGHT_TILE / PIXELS;   // invocation rows of the workgroup
const uint BATCH = LIGHT_TILE * ROWS;    // invocations: lights culled per batch

layout(local_size_x = LIGHT_TILE, local_size_y = LIGHT_TILE / PIXELS) in;

struct Light {                 // std430, 48 bytes (light_volume.vert)
    vec4 position_radius;      // xyz: world position, w: radius (world units)
    vec4 color_intensity;      // rgb: colour, a: intensity
    vec4 pulse;                // x: frequency (Hz), y: phase (rad), z: depth 0..1, w: glow
};
layout(std430, set = 0, binding = 1) readonly buffer LightBuffer {
    Light lights[];
};
layout(std430, set = 0, binding = 2) writeonly buffer LightAccum {
    uint accum[];              // width * height: RGB 10:10:10 unorm of the summed light
};
layout(std430, set = 0, binding = 3) writeonly buffer LightTiles {
    uint tiles[];              // one flag per tile: 1 = some light was listed
};
layout(set = 1, binding = 0) uniform utexture2D gbuffer_surface;   // R32G32_UINT

layout(push_constant) uniform LightPush {
    uint width;                // pixels of the target (LightAccum's row length)
    uint height;
    uint tiles_x;              // tiles per row: ceil(width / LIGHT_TILE)
    uint light_count;          // lights in LightBuffer
} pc;

const float SKY = 1.0e9;       // the light volumes' depth for "nothing drawn"
const float ANY = 1.0e30;      // a depth limit every surface (and the sky) passes

// The tile's light list: what the per-pixel rejection needs first, the rest after.
shared vec4 s_cull[BATCH];     // xy: silhouette centre (pixels), zw: silhouette units per pixel
shared vec2 s_depth[BATCH];    // x: farthest surface depth the volume's depth test passes,
                               // y: the light's view depth (its glow shows in front of surfaces)
shared vec4 s_light[BATCH];    // xyz: world position, w: radius
shared vec4 s_color[BATCH];    // rgb: colour * pulsed intensity, a: glow
shared uint s_count;
shared uint s_zmin;            // the tile's nearest/farthest G-buffer depth (unorm16; sky
shared uint s_zmax;            // = 65536)

void main() {
    uint li = gl_LocalInvocationIndex;
    uvec2 tile_origin = gl_WorkGroupID.xy * uvec2(LIGHT_TILE);
    uint px = tile_origin.x + gl_LocalInvocationID.x;
    uint py0 = tile_origin.y + gl_LocalInvocationID.y;
    if (li == 0U) {
        s_zmin = 0xFFFFFFFFU;
        s_zmax = 0U;
    }
    float w = float(pc.width);
    float h = float(pc.height);
    mat3 to_world = transpose(mat3(ubo.view));
    bool inside[PIXELS];
    float depth[PIXELS];
    vec3 world[PIXELS];
    vec3 normal[PIXELS];
    vec3 albedo[PIXELS];
    vec3 sum[PIXELS];
    uint zmin = 0xFFFFFFFFU;
    uint zmax = 0U;
    for (int j = 0; j < PIXELS; ++j) {
        uvec2 p = uvec2(px, py0 + uint(j) * ROWS);
        inside[j] = p.x < pc.width && p.y < pc.height;
        uvec2 surface = inside[j] ? texelFetch(gbuffer_surface, ivec2(p), 0).xy : uvec2(0U);
        uint dq = surface.y >> 16;
        bool sky = dq == 0U;
        depth[j] = sky ? SKY : float(dq) * (GBUFFER_DEPTH_RANGE / 65535.0);
        if (inside[j]) {
            uint key = sky ? 65536U : dq;
            zmin = min(zmin, key);
            zmax = max(zmax, key);
        }
        // The surface point (world units), as the volumes reconstruct it: eye + ray * depth.
        vec2 ndc = (vec2(p) + 0.5) * vec2(2.0 / w, 2.0 / h) - 1.0;
        vec3 view_point = vec3(ndc.x / ubo.proj[0][0], ndc.y / ubo.proj[1][1], -1.0) * depth[j];
        world[j] = to_world * (view_point - ubo.view[3].xyz);
        normal[j] = oct_decode(unpackUnorm4x8(surface.y).xy);
        albedo[j] = unpackUnorm4x8(surface.x).rgb;
        sum[j] = vec3(0.0);
    }
    barrier();
    if (zmin != 0xFFFFFFFFU) {
        atomicMin(s_zmin, zmin);
        atomicMax(s_zmax, zmax);
    }
    barrier();
    float tile_near = s_zmin == 65536U ? SKY : float(s_zmin) * (GBUFFER_DEPTH_RANGE / 65535.0);
    float tile_far = s_zmax == 65536U ? SKY : float(s_zmax) * (GBUFFER_DEPTH_RANGE / 65535.0);
    vec2 tile0 = vec2(tile_origin);
    vec2 tile1 = tile0 + float(LIGHT_TILE) - 1.0;
    float x = float(px) + 0.5;

    bool listed = false;       // some light was on this tile's list (uniform in the group)
    for (uint base = 0U; base < pc.light_count; base += BATCH) {
        if (li == 0U) {
            s_count = 0U;
        }
        barrier();
        uint i = base + li;
        if (i < pc.light_count) {
            Light light = lights[i];
            vec3 center = light.position_radius.xyz;
            float radius = light.position_radius.w;
            vec4 cv = ubo.view * vec4(center, 1.0);
            float dist = length(cv.xyz);
            bool keep = true;
            vec4 corner;               // silhouette centre (pixels), units per pixel (x, y)
            float limit;
            vec4 rect;                 // pixel centres the silhouette covers: x0, y0, x1, y1
            if (dist <= radius * 1.05) {
                // Camera inside the sphere: the volume covers the screen at the far plane,
                // its corner coordinate is NDC * 0.5 / sqrt(2), and every surface passes.
                corner = vec4(w * 0.5, h * 0.5, 0.70710678 / w, 0.70710678 / h);
                limit = ANY;
                rect = vec4(0.0, 0.0, w, h);
            } else if (cv.z >= 0.0) {
                keep = false;          // centre behind the eye: the volume is clipped away
            } else {
                float half_size = radius * dist / sqrt(dist * dist - radius * radius);
                float vz = -cv.z;
                vec2 centre_ndc = vec2(ubo.proj[0][0] * cv.x, ubo.proj[1][1] * cv.y) / vz;
                vec2 centre_px = (centre_ndc + 1.0) * vec2(w, h) * 0.5;
                // Silhouette units per pixel (the volume's corner coordinate is linear in
                // screen space: the octagon lies at one view depth).
                vec2 scale = vec2(2.0 / w, 2.0 / h) * vz
                             / (abs(vec2(ubo.proj[0][0], ubo.proj[1][1])) * half_size);
                corner = vec4(centre_px, scale);
                vec2 ext = 1.0 / scale;
                rect = vec4(centre_px - ext - 0.5, centre_px + ext - 0.5);
                // The volume sits at the sphere's far side: surfaces beyond it fail its test.
                vec4 back = ubo.proj * vec4(cv.xy, cv.z - radius, 1.0);
                float back_depth = back.z / back.w;
                limit = back_depth >= 1.0 ? ANY : (back_depth < 0.0 ? -1.0 : vz + radius);
            }
            // Tile culling: rectangle overlap, some surface passes the depth test, and some
            // surface lies in reach (lit: within the radius; glow: behind the light).
            if (keep && rect.z >= tile0.x && rect.x <= tile1.x + 1.0 && rect.w >= tile0.y
                    && rect.y <= tile1.y + 1.0 && tile_near <= limit
                    && tile_far > -cv.z - radius) {
                float wave = sin(ubo.time * 6.2831853 * light.pulse.x + light.pulse.y);
                float intensity = light.color_intensity.a
                                  * (1.0 - light.pulse.z * (0.5 + 0.5 * wave));
                uint k = atomicAdd(s_count, 1U);
                s_cull[k] = corner;
                s_depth[k] = vec2(limit, -cv.z);
                s_light[k] = light.position_radius;
                s_color[k] = vec4(light.color_intensity.rgb * intensity, light.pulse.w);
            }
        }
        barrier();
        uint count = s_count;
        listed = listed || count != 0U;
        for (uint k = 0U; k < count; ++k) {
            vec4 c = s_cull[k];
            vec2 ld = s_depth[k];
            vec4 color = s_color[k];
            vec4 lp = s_light[k];
            float dx = (x - c.x) * c.z;
            float r2 = lp.w * lp.w;
            for (int j = 0; j < PIXELS; ++j) {
                float dy = (float(py0 + uint(j) * ROWS) + 0.5 - c.y) * c.w;
                float c2 = dx * dx + dy * dy;
                if (c2 >= 1.0 || depth[j] > ld.x) {
                    continue;          // outside the silhouette, or the depth test fails
                }
                if (c2 < 0.04 && color.a > 0.0 && ld.y < depth[j]) {
                    float g = 1.0 - c2 * 25.0;
                    g *= g;
                    sum[j] += color.rgb * (color.a * (g * g * 1.6 + g * 0.2));
                }
                if (depth[j] < SKY) {
                    vec3 to_light = lp.xyz - world[j];
                    float d2 = dot(to_light, to_light);
                    if (d2 < r2) {
                        float ndotl = max(dot(normal[j], to_light)
                                          * inversesqrt(max(d2, 1e-6)), 0.0);
                        float falloff = 1.0 - d2 / r2;
                        falloff = falloff * falloff * 2.5 / (1.0 + d2 * 0.25);
                        sum[j] += albedo[j] * color.rgb * (ndotl * falloff);
                    }
                }
            }
        }
        barrier();                     // the batch's lists are read before the next overwrites
    }
    if (li == 0U) {
        tiles[gl_WorkGroupID.y * pc.tiles_x + gl_WorkGroupID.x] = listed ? 1U : 0U;
    }
    if (!listed) {
        return;                        // no light reaches this tile: its pixels are never read
    }
    for (int j = 0; j < PIXELS; ++j) {
        if (inside[j]) {
            uvec3 q = uvec3(clamp(sum[j], 0.0, 1.0) * 1023.0 + 0.5);
            accum[(py0 + uint(j) * ROWS) * pc.width + px] = q.r | (q.g << 10) | (q.b << 20);
        }
    }
}
