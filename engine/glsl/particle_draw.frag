#version 450
// Soft round sprite, additive (blend ONE, ONE).
layout(location = 0) in vec4 v_color;
layout(location = 0) out vec4 out_color;

void main() {
    vec2 d = gl_PointCoord * 2.0 - 1.0;
    float r2 = dot(d, d);
    if (r2 >= 1.0) {
        discard;
    }
    float a = 1.0 - r2;
    out_color = vec4(v_color.rgb * (a * a), 0.0);
}
