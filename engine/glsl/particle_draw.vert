#version 450
#extension GL_GOOGLE_include_directive : require
// Particles as point sprites: the vertex buffer IS the storage buffer the compute pass wrote.
#include "globals.glsl"

layout(location = 0) in vec4 in_pos_life;   // xyz world position, w: seconds left (<= 0 dead)
layout(location = 1) in vec4 in_color;      // rgba after ramp and fade
layout(location = 2) in float in_size;      // world-space diameter

layout(location = 0) out vec4 v_color;

void main() {
    if (in_pos_life.w <= 0.0 || in_color.a <= 0.0) {
        gl_Position = vec4(0.0, 0.0, -2.0, 1.0);   // outside the depth range: clipped
        gl_PointSize = 1.0;
        v_color = vec4(0.0);
        return;
    }
    vec4 clip = ubo.view_proj * vec4(in_pos_life.xyz, 1.0);
    gl_Position = clip;
    float pixels = in_size * abs(ubo.proj[1][1]) * ubo.viewport.y * 0.5 / max(clip.w, 1e-3);
    gl_PointSize = clamp(pixels, 1.5, 24.0);
    // Sub-pixel sprites keep their energy: fade instead of shrinking below 1.5 px.
    v_color = vec4(in_color.rgb * in_color.a * min(1.0, pixels / 1.5), 1.0);
}
