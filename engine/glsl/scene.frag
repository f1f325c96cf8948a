#version 450
#extension GL_GOOGLE_include_directive : require
// Scene pass: writes the ambient-lit colour and the packed G-buffer (albedo, emissive, normal,
// linear depth) that the light volumes read as an input attachment.
#include "globals.glsl"

layout(location = 0) in vec3 v_world;
layout(location = 1) in vec3 v_normal;
layout(location = 2) in vec4 v_color;

layout(location = 0) out vec4 out_color;
layout(location = 1) out uvec2 out_surface;

void main() {
    vec3 albedo = v_color.rgb;
    vec3 n = normalize(v_normal);
    if (v_world.y < 0.001 && n.y > 0.9) {
        // Ground: flagstones with dark seams, a slight per-tile tint.
        vec2 cell = v_world.xz * 0.5;
        vec2 tile = floor(cell);
        vec2 f = abs(fract(cell) - 0.5);
        float seam = smoothstep(0.47, 0.49, max(f.x, f.y));
        uint h = uint(int(tile.x) * 73856093 ^ int(tile.y) * 19349663);
        h = (h ^ (h >> 13)) * 0x5bd1e995U;
        float tint = float((h >> 8) & 255U) * (1.0 / 255.0);
        albedo *= (0.85 + 0.3 * tint) * (1.0 - 0.6 * seam);
    }
    float emissive = v_color.a;
    out_color = vec4(albedo * (ubo.ambient.rgb + emissive), 1.0);
    float depth = clamp((1.0 / gl_FragCoord.w) / GBUFFER_DEPTH_RANGE, 1.0 / 65535.0, 1.0);
    out_surface = uvec2(packUnorm4x8(vec4(albedo, emissive)),
                        (packUnorm4x8(vec4(oct_encode(n), 0.0, 0.0)) & 0xFFFFU)
                        | (uint(depth * 65535.0 + 0.5) << 16));
}
