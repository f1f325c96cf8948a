#version 450
// games/minimal: one triangle, turned and tinted by the Spin block that the example's
// SpinSystem writes every frame (one uniform buffer per frame slot, bound by name "Spin").

layout(set = 0, binding = 0) uniform Spin {
    vec4 tint;     // rgb colour of the triangle (a unused)
    float angle;   // radians, counter-clockwise on screen
} spin;

layout(location = 0) out vec3 v_color;

void main() {
    // Three corners 120 degrees apart, generated from the vertex index (no vertex buffer).
    float a = spin.angle + float(gl_VertexIndex) * 2.0943951;
    vec2 corner = vec2(cos(a), -sin(a)) * 0.7;   // clip space; Vulkan's y points down
    gl_Position = vec4(corner, 0.0, 1.0);
    v_color = spin.tint.rgb * (0.4 + 0.3 * float(gl_VertexIndex));
}
