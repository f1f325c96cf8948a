#version 450
// ResourceBinder test (merge): Camera is shared with lit.frag at the same location.

layout(std140, set = 0, binding = 0) uniform Camera {
    mat4 view_proj;
    vec4 eye;
} camera;

layout(location = 0) in vec3 in_position;

void main() {
    gl_Position = camera.view_proj * vec4(in_position, 1.0);
}
