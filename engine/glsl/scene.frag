#version 450
#extension GL_GOOGLE_include_directive : require
// Scene pass: writes the ambient-lit colour and the packed G-buffer (albedo, emissive, normal,
// linear depth) that the light volumes read as an input attachment. Kept minimal: on lavapipe
// this full-screen shader is a large share of the frame.
#include "globals.glsl"

layout(location = 0) in vec2 v_ground;
layout(location = 1) flat in vec4 v_color;
layout(location = 2) flat in uint v_normal;
layout(location = 3) flat in float v_is_ground;

layout(location = 0) out vec4 out_color;
layout(location = 1) out uvec2 out_surface;

void main() {
    vec3 albedo = v_color.rgb;
    if (v_is_ground > 0.5) {
        // Flagstones: dark seams between 2x2 tiles, every other tile a shade lighter.
        vec2 f = abs(fract(v_ground) - 0.5);
        float seam = step(0.475, max(f.x, f.y));
        vec2 tile = floor(v_ground);
        float checker = mod(tile.x + tile.y, 2.0);
        albedo *= (0.9 + 0.15 * checker) * (1.0 - 0.6 * seam);
    }
    out_color = vec4(albedo * (ubo.ambient.rgb + v_color.a), 1.0);
    float depth = min(gl_FragCoord.z == 1.0 ? 1.0 : (1.0 / gl_FragCoord.w) / GBUFFER_DEPTH_RANGE,
                      1.0);
    out_surface = uvec2(packUnorm4x8(vec4(albedo, v_color.a)),
                        v_normal | (uint(depth * 65535.0 + 0.5) << 16));
}
