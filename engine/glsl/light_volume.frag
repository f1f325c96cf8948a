#version 450
#extension GL_GOOGLE_include_directive : require
// Applies ONE light to the G-buffer under the quad (distance falloff, Lambert), plus a small
// glow around the light itself where nothing hides it. Additive blend into the colour.
// Position: eye + ray * (surface view depth / quad view depth), the surface depth unpacked
// from the G-buffer: one input-attachment load per fragment, no matrix.
#include "globals.glsl"

layout(early_fragment_tests) in;

layout(input_attachment_index = 0, set = 1, binding = 0) uniform usubpassInput in_surface;

layout(location = 0) flat in vec4 v_light;
layout(location = 1) flat in vec4 v_color;
layout(location = 2) in vec3 v_ray;
layout(location = 3) in vec2 v_corner;
layout(location = 4) flat in vec2 v_depth;

layout(location = 0) out vec4 out_color;

void main() {
    float c2 = dot(v_corner, v_corner);
    if (c2 >= 1.0) {
        discard;                      // outside the sphere's silhouette
    }
    uvec2 surface = subpassLoad(in_surface).xy;
    float depth = float(surface.y >> 16) * (GBUFFER_DEPTH_RANGE / 65535.0);
    if (depth == 0.0) {
        depth = 1.0e9;                // sky
    }
    vec3 result = vec3(0.0);
    if (c2 < 0.04 && v_color.a > 0.0 && v_depth.x < depth) {
        // A hot core and a soft halo around the light itself.
        float g = 1.0 - c2 * 25.0;
        g *= g;
        result = v_color.rgb * (v_color.a * (g * g * 1.6 + g * 0.2));
    }
    vec3 world = ubo.camera_pos.xyz + v_ray * (depth * v_depth.y);
    vec3 to_light = v_light.xyz - world;
    float d2 = dot(to_light, to_light);
    float r2 = v_light.w * v_light.w;
    if (d2 < r2) {
        vec3 n = oct_decode(unpackUnorm4x8(surface.y).xy);
        vec3 albedo = unpackUnorm4x8(surface.x).rgb;
        float ndotl = max(dot(n, to_light) * inversesqrt(max(d2, 1e-6)), 0.0);
        float falloff = 1.0 - d2 / r2;
        falloff = falloff * falloff * 2.5 / (1.0 + d2 * 0.25);
        result += albedo * v_color.rgb * (ndotl * falloff);
    } else if (result.r + result.g + result.b == 0.0) {
        discard;
    }
    out_color = vec4(result, 0.0);
}
