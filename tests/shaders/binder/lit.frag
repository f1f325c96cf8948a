#version 450
// ResourceBinder test (merge): Camera as in lit.vert (other instance name), plus a light SSBO.

struct Light {
    vec4 position_radius;
    vec4 color;
};

layout(std140, set = 0, binding = 0) uniform Camera {
    mat4 view_proj;
    vec4 eye;
} cam;

layout(std430, set = 1, binding = 0) readonly buffer Lights {
    Light lights[];
} lightBuf;

layout(location = 0) out vec4 out_color;

void main() {
    out_color = cam.eye + lightBuf.lights[0].color;
}
