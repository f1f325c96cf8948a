#version 450
#extension GL_GOOGLE_include_directive : require
// Applies ONE light to the G-buffer under the quad (distance falloff, Lambert), plus a small
// glow around the light itself where nothing hides it. Additive blend into the colour.
#include "globals.glsl"

layout(input_attachment_index = 0, set = 1, binding = 0) uniform subpassInput in_albedo;
layout(input_attachment_index = 1, set = 1, binding = 1) uniform subpassInput in_normal;
layout(input_attachment_index = 2, set = 1, binding = 2) uniform subpassInput in_depth;

layout(location = 0) flat in vec4 v_light;
layout(location = 1) flat in vec4 v_color;
layout(location = 2) in vec2 v_corner;
layout(location = 3) flat in float v_light_depth;

layout(location = 0) out vec4 out_color;

void main() {
    float depth = subpassLoad(in_depth).r;
    vec3 result = vec3(0.0);
    float glow_r2 = dot(v_corner, v_corner);
    if (v_color.a > 0.0 && glow_r2 < 0.25 && v_light_depth < depth) {
        // A hot core and a soft halo around the light itself.
        float g = exp(-glow_r2 * 400.0) * 1.5 + exp(-glow_r2 * 60.0) * 0.25;
        result += v_color.rgb * (g * v_color.a);
    }
    if (depth < 1.0) {
        vec2 ndc = gl_FragCoord.xy * ubo.viewport.zw * 2.0 - 1.0;
        vec4 p = ubo.inv_view_proj * vec4(ndc, depth, 1.0);
        vec3 world = p.xyz / p.w;
        vec3 to_light = v_light.xyz - world;
        float d2 = dot(to_light, to_light);
        float r2 = v_light.w * v_light.w;
        if (d2 < r2) {
            vec3 n = subpassLoad(in_normal).xyz * 2.0 - 1.0;
            float ndotl = max(dot(n, to_light * inversesqrt(max(d2, 1e-6))), 0.0);
            float falloff = 1.0 - d2 / r2;
            falloff = falloff * falloff * 2.5 / (1.0 + d2 * 0.25);
            result += subpassLoad(in_albedo).rgb * v_color.rgb * (ndotl * falloff);
        }
    }
    if (result == vec3(0.0)) {
        discard;
    }
    out_color = vec4(result, 0.0);
}
