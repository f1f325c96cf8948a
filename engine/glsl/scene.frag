#version 450
#extension GL_GOOGLE_include_directive : require
// Scene pass: writes the ambient-lit colour and the G-buffer (albedo, normal) that the
// light volumes read as input attachments.
#include "globals.glsl"

layout(location = 0) in vec3 v_world;
layout(location = 1) in vec3 v_normal;
layout(location = 2) in vec4 v_color;

layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_albedo;
layout(location = 2) out vec4 out_normal;

void main() {
    vec3 albedo = v_color.rgb;
    vec3 n = normalize(v_normal);
    if (v_world.y < 0.001 && n.y > 0.9) {
        // Ground: flagstones with dark seams, a slight per-tile tint.
        vec2 tile = floor(v_world.xz * 0.5);
        vec2 f = abs(fract(v_world.xz * 0.5) - 0.5);
        float seam = smoothstep(0.47, 0.49, max(f.x, f.y));
        float tint = fract(sin(dot(tile, vec2(12.9898, 78.233))) * 43758.5453);
        albedo *= (0.85 + 0.3 * tint) * (1.0 - 0.6 * seam);
    }
    float emissive = v_color.a;
    out_color = vec4(albedo * (ubo.ambient.rgb + emissive), 1.0);
    out_albedo = vec4(albedo, 1.0);
    out_normal = vec4(n * 0.5 + 0.5, 1.0);
}
