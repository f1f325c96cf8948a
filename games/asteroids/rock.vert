#version 450
// games/asteroids: one rock mesh (per vertex), placed, turned and tinted per instance.

layout(location = 0) in vec2 in_pos;      // mesh: unit-radius outline point or centre
layout(location = 1) in float in_shade;   // mesh: 1 at the rim, brighter at the centre
layout(location = 2) in vec2 rock_pos;    // instance (the culled Visible buffer)
layout(location = 3) in float rock_angle;
layout(location = 4) in float rock_scale;
layout(location = 5) in vec4 rock_color;

layout(push_constant) uniform View {
    vec2 to_clip;   // world units -> clip space (1 / half_view)
} view;

layout(location = 0) out vec3 v_color;

void main() {
    float c = cos(rock_angle), s = sin(rock_angle);
    vec2 p = mat2(c, s, -s, c) * in_pos * rock_scale + rock_pos;
    // Bigger rocks are nearer (depth test LESS): small ones pass behind them.
    gl_Position = vec4(p * view.to_clip, 0.9 - rock_scale, 1.0);
    v_color = rock_color.rgb * in_shade;
}
